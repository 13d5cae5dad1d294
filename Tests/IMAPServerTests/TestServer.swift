import Foundation
import Logging
import MailAuth
import MailStore
import MailStoreSQLite
import NIOCore
import NIOPosix
import NIOSSL
import ServerSupport
@testable import IMAPServer

/// An IMAP server in this process on 127.0.0.1 with a fresh SQLite database: users
/// alice@example.test and bob@example.test (passwords `alice-pw`, `bob-pw`).
struct TestServer: Sendable {
    static let alicePassword = "alice-pw"
    static let bobPassword = "bob-pw"

    let directory: URL
    let store: SQLiteMailStore
    let users: SQLiteDirectory
    let port: Int
    /// imaps, when a certificate could be made (openssl).
    let tlsPort: Int?
    let alice: Account
    let bob: Account

    static func start(allowPlaintext: Bool = true, appendLimit: Int? = nil, quotaBytes: Int64 = 0) async throws -> TestServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-imap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: directory.appendingPathComponent("test.sqlite").path)
        let store = SQLiteMailStore(db)
        let users = SQLiteDirectory(db)
        try await users.addDomain("example.test")
        // Cheap hashes: these tests are not about password hashing.
        let alice = try await users.addUser("alice@example.test", passwordHash: try PasswordHash.make(alicePassword, scheme: .sha512crypt),
                                            scram: SCRAMCredentials.derive(password: alicePassword, iterations: 4096).storageString,
                                            quotaBytes: quotaBytes)
        let bob = try await users.addUser("bob@example.test", passwordHash: try PasswordHash.make(bobPassword, scheme: .sha512crypt),
                                          scram: nil, quotaBytes: 0)
        let tls = try? makeTLS(in: directory)
        var logger = Logger(label: "imap-test")
        logger.logLevel = ProcessInfo.processInfo.environment["IMAP_TEST_LOG"] != nil ? .trace : .critical
        let authenticator = Authenticator(directory: users, throttle: AuthThrottle(configuration: .init(baseDelay: .milliseconds(1))))
        let services = IMAPServices(authenticator: authenticator, store: store, recent: RecentTracker(), tlsAvailable: tls != nil,
                                    logger: logger)
        let limiter = ConnectionLimiter(limitPerClient: 50, limitTotal: 1000)
        var config = IMAPServerConfiguration(hostname: "imap.example.test")
        config.allowPlaintextWithoutTLS = allowPlaintext
        if let appendLimit { config.appendLimit = appendLimit }
        let listener = IMAPServer.listener(configuration: config, addresses: [("127.0.0.1", 0)], services: services,
                                           limiter: limiter, registry: ConnectionRegistry(tls: tls), shutdownGrace: .seconds(1),
                                           group: MultiThreadedEventLoopGroup.singleton)
        let port = try await listener.bind().first?.port ?? 0
        var tlsPort: Int?
        if tls != nil {
            var tlsConfig = config
            tlsConfig.implicitTLS = true
            let secure = IMAPServer.listener(configuration: tlsConfig, addresses: [("127.0.0.1", 0)], services: services,
                                             limiter: limiter, registry: ConnectionRegistry(tls: tls), shutdownGrace: .seconds(1),
                                             group: MultiThreadedEventLoopGroup.singleton)
            tlsPort = try await secure.bind().first?.port
        }
        return TestServer(directory: directory, store: store, users: users, port: port, tlsPort: tlsPort, alice: alice, bob: bob)
    }

    /// A self-signed certificate made with openssl(1), if it is installed.
    static func makeTLS(in directory: URL) throws -> NIOSSLContext {
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                       "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=imap.example.test"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return try TLSSetup.serverContext(certificatePath: cert, privateKeyPath: key)
    }

    /// Delivers a message to a user's mailbox as local delivery would.
    @discardableResult
    func deliver(_ account: Account, _ message: String, mailbox: String = "INBOX", flags: MessageFlags = .none) async throws -> AppendResult {
        try await store.append(account.id, to: mailbox, NewMessage(bytes: Array(message.utf8), flags: flags,
                                                                   internalDate: InternalDate(seconds: 1_700_000_000, zoneMinutes: 60)))
    }

    /// Runs `python3 script args...`; returns (exit status, output). The wait happens on a
    /// thread of its own: blocking a cooperative-pool thread would starve the in-process
    /// server this script is talking to (the pool has one thread per core).
    func python(_ script: String, _ arguments: [String] = []) async throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(script).path
        p.arguments = ["python3", path, String(port), String(tlsPort ?? 0)] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let reader = pipe.fileHandleForReading
        return await withCheckedContinuation { continuation in
            Thread {
                let data = reader.readDataToEndOfFile()
                p.waitUntilExit()
                continuation.resume(returning: (p.terminationStatus, String(decoding: data, as: UTF8.self)))
            }.start()
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
