import Foundation
import MailAuth
import MailStoreSQLite

#if canImport(Glibc)
import Glibc
#endif

/// `swallow init`: a data directory with a config file, the database and a certificate.
public enum DataDirectory {
    public struct Options: Sendable {
        public var directory: String
        public var domain: String
        public var hostname: String?
        /// Bind addresses for network listeners; the auto-created dev setup uses loopback only.
        public var publicHost = "0.0.0.0"

        public init(directory: String, domain: String, hostname: String? = nil) {
            self.directory = directory
            self.domain = domain
            self.hostname = hostname
        }
    }

    public static let configFileName = "swallow.toml"

    /// Creates everything; refuses to overwrite an existing configuration.
    @discardableResult
    public static func initialize(_ options: Options) async throws -> SwallowConfiguration {
        let domain = options.domain.lowercased()
        guard DirectoryAddress.isValidDomain(domain) else { throw DirectoryError.invalidDomain(options.domain) }
        let hostname = (options.hostname ?? domain).lowercased()
        guard HostPort.isHostname(Substring(hostname)) else { throw DirectoryError.invalidDomain(hostname) }
        let directory = URL(fileURLWithPath: options.directory).standardizedFileURL.path
        let configPath = directory + "/" + configFileName
        guard !FileManager.default.fileExists(atPath: configPath) else {
            throw ConfigurationError(file: configPath, key: nil, message: "already exists; remove it or choose another --data directory")
        }
        try FileIO.createDirectory(directory, mode: 0o750)
        let text = configText(hostname: hostname, dataDir: directory, host: options.publicHost, ports: ListenerPorts.forThisProcess())
        try FileIO.writeAtomically(Array(text.utf8), to: configPath, mode: 0o640)
        let config = try SwallowConfiguration.load(path: configPath)
        let database = try SQLiteDatabase(path: config.databasePath)
        let directoryStore = SQLiteDirectory(database)
        if try await !directoryStore.isLocalDomain(domain) { try await directoryStore.addDomain(domain) }
        try ensureCertificate(config)
        return config
    }

    /// Generates the certificate when it is missing and was not named in the config file.
    public static func ensureCertificate(_ config: SwallowConfiguration) throws {
        let fm = FileManager.default
        let haveCertificate = fm.fileExists(atPath: config.certificatePath)
        let haveKey = fm.fileExists(atPath: config.privateKeyPath)
        if haveCertificate && haveKey { return }
        if config.tls.namedExplicitly {
            let missing = haveCertificate ? ("tls.private_key", config.privateKeyPath) : ("tls.certificate", config.certificatePath)
            throw ConfigurationError(file: config.sourcePath, key: missing.0, message: "file '\(missing.1)' does not exist")
        }
        try SelfSignedCertificate.generate(hostname: config.server.hostname, certificatePath: config.certificatePath,
                                           privateKeyPath: config.privateKeyPath)
    }

    static func configText(hostname: String, dataDir: String, host: String, ports: ListenerPorts) -> String {
        func list(_ port: Int, host h: String = host) -> String { "[\"\(h):\(port)\"]" }
        return """
            # Swallow configuration (see README.md for every key).

            [server]
            hostname = "\(hostname)"          # EHLO name and greeting
            data_dir = "\(dataDir)"
            user = ""                          # after binding, drop root privileges to this user ("" = stay)

            [listen]
            # Each listener is a list of "host:port"; an empty list disables it.
            smtp        = \(list(ports.smtp))
            submission  = \(list(ports.submission))
            submissions = \(list(ports.submissions))
            lmtp        = \(list(ports.lmtp, host: "127.0.0.1"))
            imap        = \(list(ports.imap))
            imaps       = \(list(ports.imaps))
            pop3        = \(list(ports.pop3))
            pop3s       = \(list(ports.pop3s))
            managesieve = \(list(ports.managesieve))
            admin       = \(list(ports.admin, host: "127.0.0.1"))

            [tls]
            # Relative to data_dir. Left unset, a self-signed certificate is generated when missing;
            # set, the files must exist.
            # certificate = "cert.pem"
            # private_key = "key.pem"

            [auth]
            allow_plaintext_without_tls = false

            [relay]
            trusted_networks = ["127.0.0.0/8", "::1/128"]
            smarthost = ""                     # "host:port": send all remote mail there instead of MX

            [dns]
            nameservers = []                   # "ip:port"; empty = /etc/resolv.conf

            [queue]                            # outbound retries and deadlines, in seconds
            min_backoff = 300                  # first retry; doubles per attempt
            max_backoff = 14400
            max_lifetime = 432000              # bounce after 5 days
            command_timeout = 300              # each reply, each write of the message
            data_timeout = 600                 # the reply to the end of the message
            delay_warning = 14400              # one "delayed" report to the sender; 0 = never
            max_connections = 100              # outbound connections at once
            destination_concurrency = 20       # per destination (slow start from initial_concurrency = 5)
            connection_cache_time = 5          # keep an idle connection for the next message

            [transport]                        # per-domain next hop, like Postfix transport_maps
            # "example.net" = "127.0.0.1:2526"

            [store]
            backend = "sqlite"                 # or "postgres"
            # url = "postgres://user:pass@127.0.0.1:5432/swallow"

            """
    }
}

/// The standard ports when this process may bind them (root or CAP_NET_BIND_SERVICE), and the
/// same ports plus 10000 otherwise (DESIGN.md §3).
public struct ListenerPorts: Sendable, Equatable {
    public var smtp = 25, submission = 587, submissions = 465, lmtp = 24, imap = 143, imaps = 993
    public var pop3 = 110, pop3s = 995, managesieve = 4190, admin = 8080

    public static let standard = ListenerPorts()
    public static var unprivileged: ListenerPorts {
        var p = ListenerPorts()
        p.smtp += 10000; p.submission += 10000; p.submissions += 10000; p.lmtp += 10000; p.imap += 10000
        p.imaps += 10000; p.pop3 += 10000; p.pop3s += 10000; p.managesieve += 10000; p.admin += 10000
        return p
    }

    public static func forThisProcess() -> ListenerPorts {
        mayBindPrivilegedPorts() ? .standard : .unprivileged
    }

    /// Root, or the effective capability set holds CAP_NET_BIND_SERVICE (bit 10).
    public static func mayBindPrivilegedPorts() -> Bool {
        if geteuid() == 0 { return true }
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return false }
        for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces)
            if let caps = UInt64(hex, radix: 16) { return caps & (1 << 10) != 0 }
        }
        return false
    }
}
