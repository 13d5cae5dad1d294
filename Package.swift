// swift-tools-version:6.1
import PackageDescription

// Dependency direction (DESIGN.md §2): lower targets never import higher ones.
// MailCore <- MailAuth <- MailStore <- MailStoreSQLite <- SwallowRuntime <- swallow
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "swallow",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swallow", targets: ["swallow"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // libxcrypt's crypt(3): yescrypt, bcrypt, SHA-crypt (Debian's libcrypt-dev).
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),
        .target(name: "MailCore", swiftSettings: strict),
        .target(
            name: "MailAuth",
            dependencies: [
                "MailCore", "CCrypt",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        .target(name: "MailStore", dependencies: ["MailCore", "MailAuth"], swiftSettings: strict),
        // Opening the SQLite files that hold acknowledged mail with the durability DESIGN.md §4 asks.
        .target(
            name: "SQLiteSupport",
            dependencies: ["MailCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        .target(
            name: "MailStoreSQLite",
            dependencies: [
                "MailCore", "MailAuth", "MailStore", "SQLiteSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The C API for incremental blob I/O (BodyWriter).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The line framing, byte scanning and SASL response lines every line protocol shares.
        .target(name: "LineFraming", swiftSettings: strict),
        .target(name: "SMTPProtocol", dependencies: ["LineFraming", "MailCore"], swiftSettings: strict),
        .target(
            name: "MailDNS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // DKIM (and later SPF, DMARC, ARC): signing and verification, pure but for the keys' files.
        .target(
            name: "MailAuthentication",
            dependencies: [
                "MailCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(
            name: "MailQueue",
            dependencies: [
                "MailCore", "SQLiteSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "Delivery",
            dependencies: [
                "MailCore", "MailAuth", "MailStore", "MailQueue", "SMTPProtocol", "Sieve",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        .target(
            name: "ServerSupport",
            dependencies: [
                "MailCore", "MailAuth", "LineFraming",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict),
        .target(
            name: "SMTPServer",
            dependencies: [
                "MailCore", "MailAuth", "MailStore", "SMTPProtocol", "Delivery", "MailQueue", "ServerSupport", "LineFraming",
                "MailAuthentication", "Filters",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        .target(name: "POP3Protocol", dependencies: ["LineFraming"], swiftSettings: strict),
        .target(
            name: "POP3Server",
            dependencies: [
                "MailCore", "MailAuth", "MailStore", "POP3Protocol", "ServerSupport", "LineFraming",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        .target(name: "IMAPProtocol", dependencies: ["LineFraming"], swiftSettings: strict),
        .target(
            name: "IMAPServer",
            dependencies: [
                "MailCore", "MailAuth", "MailStore", "IMAPProtocol", "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // Sieve (RFC 5228 and extensions): parsing, checking and running user filters; pure.
        .target(name: "Sieve", dependencies: ["MailCore"], swiftSettings: strict),
        // ManageSieve (RFC 5804): users manage their Sieve scripts over the network.
        .target(
            name: "ManageSieveServer",
            dependencies: [
                "MailCore", "MailAuth", "MailStore", "Sieve", "ServerSupport", "LineFraming",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // Content scanners in front of delivery: clamd, spamd, rspamd (DESIGN.md §2 "Filters").
        .target(
            name: "Filters",
            dependencies: [
                "MailCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // The admin listener: JSON API, console pages, /metrics, /healthz (DESIGN.md §2 "Admin").
        .target(
            name: "Admin",
            dependencies: [
                "MailCore", "MailAuth", "MailStore", "MailQueue", "Delivery", "SQLiteSupport", "ServerSupport",
                "MailAuthentication", "Sieve",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .target(
            name: "SwallowRuntime",
            dependencies: [
                "MailCore", "MailAuth", "MailStore", "MailStoreSQLite", "MailQueue", "Delivery", "SMTPServer", "ServerSupport", "IMAPServer", "POP3Server", "MailDNS", "Admin",
                "MailAuthentication", "Filters", "Sieve", "ManageSieveServer",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                "SMTPProtocol", "POP3Protocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "swallow",
            dependencies: [
                "SwallowRuntime", "MailCore", "MailAuth", "MailStore", "MailQueue", "Delivery", "Admin", "MailAuthentication",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // What test targets share: the seeded generator, chunked feeding, a SCRAM client.
        .target(
            name: "TestSupport",
            dependencies: [
                "MailAuth", "LineFraming",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strict),
        // The shared conformance suite every MailStore backend must pass (SQLite now, PostgreSQL later).
        .target(
            name: "MailStoreConformance",
            dependencies: ["MailStore", "MailAuth", "MailCore"],
            path: "Tests/MailStoreConformance",
            swiftSettings: strict),
        .testTarget(name: "FiltersTests", dependencies: ["TestSupport", "Filters", "MailCore",
                                                         .product(name: "NIOCore", package: "swift-nio"),
                                                         .product(name: "NIOPosix", package: "swift-nio"),
                                                         .product(name: "Logging", package: "swift-log")],
                    swiftSettings: strict),
        .testTarget(name: "SieveTests", dependencies: ["Sieve"], swiftSettings: strict),
        .testTarget(name: "ManageSieveServerTests", dependencies: ["ManageSieveServer"], swiftSettings: strict),
        .testTarget(name: "MailCoreTests", dependencies: ["TestSupport", "MailCore"], swiftSettings: strict),
        .testTarget(name: "MailAuthTests", dependencies: ["TestSupport", "MailAuth"], swiftSettings: strict),
        .testTarget(name: "SMTPProtocolTests", dependencies: ["TestSupport", "SMTPProtocol", "MailCore"], swiftSettings: strict),
        .testTarget(name: "DeliveryTests", dependencies: ["Delivery", "MailCore", "MailQueue", "Sieve"], swiftSettings: strict),
        .testTarget(
            name: "MailDNSTests",
            dependencies: [
                "TestSupport",
                "MailDNS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(name: "POP3ProtocolTests", dependencies: ["TestSupport", "POP3Protocol"], swiftSettings: strict),
        .testTarget(
            name: "POP3ServerTests",
            dependencies: [
                "TestSupport",
                "POP3Server", "POP3Protocol", "MailAuth", "MailStore", "MailCore", "MailStoreSQLite", "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(name: "IMAPProtocolTests", dependencies: ["TestSupport", "IMAPProtocol", "LineFraming"], swiftSettings: strict),
        .testTarget(name: "AdminTests", dependencies: ["Admin"], swiftSettings: strict),
        .testTarget(name: "MailAuthenticationTests", dependencies: ["MailAuthentication", "MailCore"],
                    exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "LineFramingTests", dependencies: ["LineFraming"], swiftSettings: strict),
        .testTarget(name: "ServerSupportTests", dependencies: ["ServerSupport", "MailCore",
                                                               .product(name: "NIOEmbedded", package: "swift-nio"),
                                                               .product(name: "CompressNIO", package: "compress-nio")],
                    swiftSettings: strict),
        .testTarget(
            name: "IMAPServerTests",
            dependencies: [
                "TestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                "IMAPServer", "IMAPProtocol", "MailStore", "MailStoreSQLite", "MailAuth", "MailCore", "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["imaplib_scenarios.py"],
            swiftSettings: strict),
        .testTarget(
            name: "SMTPServerTests",
            dependencies: [
                "TestSupport", "LineFraming", "SMTPServer", "SMTPProtocol", "MailAuth", "MailCore", "MailStore", "MailStoreSQLite",
                "MailQueue", "Delivery", "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "MailStoreSQLiteTests",
            dependencies: [
                "MailStoreSQLite", "MailStoreConformance", "MailStore", "MailAuth", "MailCore", "MailQueue", "SQLiteSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict),
        // Real clients and peers against the built server (python3 stdlib, swaks, Postfix).
        .testTarget(name: "InteropTests", dependencies: ["swallow"], swiftSettings: strict),
        .testTarget(
            name: "SwallowRuntimeTests",
            dependencies: ["SwallowRuntime", "MailStore", "MailAuth", "MailCore", "MailStoreSQLite"],
            swiftSettings: strict),
    ]
)
