import Foundation
import Logging
import Delivery
import Filters
import MailAuth

/// Swallow's configuration: the TOML file of DESIGN.md §3, validated.
///
/// Every key has a documented default, so a file may name only what differs. Relative file
/// names (the certificate, the database) are relative to `data_dir`; a relative `data_dir` is
/// relative to the directory holding the config file.
public struct SwallowConfiguration: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        /// The EHLO name and greeting; also the certificate's name.
        public var hostname = "localhost"
        public var dataDir = "."
        /// After binding, drop root privileges to this user ("" = stay).
        public var user = ""
    }

    public struct Listen: Sendable, Equatable {
        public var smtp: [HostPort] = []
        public var submission: [HostPort] = []
        public var submissions: [HostPort] = []
        public var lmtp: [HostPort] = []
        public var imap: [HostPort] = []
        public var imaps: [HostPort] = []
        public var pop3: [HostPort] = []
        public var pop3s: [HostPort] = []
        public var admin: [HostPort] = []
        /// ManageSieve (RFC 5804); off unless configured.
        public var managesieve: [HostPort] = []

        /// Every listener role with its addresses, in a stable order for printing.
        public var all: [(role: String, addresses: [HostPort])] {
            [("smtp", smtp), ("submission", submission), ("submissions", submissions), ("lmtp", lmtp),
             ("imap", imap), ("imaps", imaps), ("pop3", pop3), ("pop3s", pop3s), ("managesieve", managesieve), ("admin", admin)]
        }

        public static func == (a: Listen, b: Listen) -> Bool { a.all.map(\.addresses) == b.all.map(\.addresses) }
    }

    public struct TLS: Sendable, Equatable {
        public var certificate = "cert.pem"
        public var privateKey = "key.pem"
        /// True when the file named the certificate: then a missing file is an error, not
        /// something to generate.
        public var namedExplicitly = false
    }

    public struct Auth: Sendable, Equatable {
        /// Dovecot's `disable_plaintext_auth = no`, when true: every mechanism, PLAIN and LOGIN
        /// included, before TLS.
        public var allowPlaintextWithoutTLS = false
        /// Postfix's `smtpd_tls_auth_only`: no authentication of any kind before TLS on
        /// submission, IMAP and POP3 (SCRAM included), unless `allowPlaintextWithoutTLS`.
        public var tlsAuthOnly = true
        /// PBKDF2 iterations for newly stored SCRAM-SHA-256 keys (RFC 7677 asks at least 4096;
        /// Cyrus SASL clients refuse more than 65536).
        public var scramIterations = SCRAMCredentials.defaultIterations
        /// Failed logins on one connection before it is closed.
        public var maxFailuresPerConnection = 3
        /// Accounts from `/etc/passwd` and `/etc/shadow` too (`SystemUserDirectory`).
        public var systemUsers = false
        /// The lowest uid of such an account (root and daemons never are).
        public var systemUsersMinimumUID = 1000
    }

    /// Every bound a listener enforces (DESIGN.md §4 "Bounded everything"), with today's
    /// defaults; durations in seconds.
    public struct Limits: Sendable, Equatable {
        /// Connections of all listeners together.
        public var maxConnections = 10_000
        /// Connections from one client (an IPv4 address or an IPv6 /64).
        public var maxConnectionsPerClient = 50
        /// Largest message SMTP accepts (announced as SIZE).
        public var maxMessageSize = 50 * 1024 * 1024
        /// Recipients per SMTP transaction.
        public var maxRecipients = 1000
        /// Longest command lines, line end included.
        public var smtpMaxLineLength = 2048
        public var pop3MaxLineLength = 255
        public var imapMaxLineLength = 64 * 1024
        /// Largest IMAP literal before login.
        public var imapPreLoginLiteralSize = 8192
        /// Inactivity allowed between commands, per protocol (RFC 5321 §4.5.3.2.7: 5 min;
        /// RFC 1939 §3: 10 min; RFC 9051 §5.4: 30 min).
        public var smtpIdleTimeout = 300
        public var pop3IdleTimeout = 600
        public var imapIdleTimeout = 1800
        /// Absolute time from connect to a successful login (submission, IMAP, POP3).
        public var loginTimeout = 60
        /// How long a client may leave our output unread before it is disconnected.
        public var outputStallTimeout = 120
        /// On shutdown, how long commands in progress may take before connections are closed.
        public var shutdownGrace = 10

        public init() {}
    }

    public struct Relay: Sendable, Equatable {
        public var trustedNetworks: [CIDRNetwork] = [CIDRNetwork("127.0.0.0/8")!, CIDRNetwork("::1/128")!]
        public var smarthost: HostPort?
        /// AUTH PLAIN credentials for the smarthost, sent only over TLS whose certificate verifies.
        public var smarthostUser = ""
        public var smarthostPassword = ""
        /// PEM CA certificates that verify the smarthost ("" = the system's roots), relative to
        /// data_dir.
        public var smarthostCAFile = ""
    }

    public struct DNS: Sendable, Equatable {
        /// Empty: use /etc/resolv.conf.
        public var nameservers: [HostPort] = []
    }

    /// Outbound queue timing (Postfix: minimal_backoff_time, maximal_backoff_time,
    /// maximal_queue_lifetime, smtp_*_timeout), in seconds.
    public struct Queue: Sendable, Equatable {
        public var minBackoff = 300
        public var maxBackoff = 4 * 3600
        public var maxLifetime = 5 * 24 * 3600
        /// Connecting (at most 30 s), each reply, and each write of the message making progress
        /// (RFC 5321 §4.5.3.2).
        public var commandTimeout = 300
        /// The reply to the end of the message (RFC 5321 §4.5.3.2.6).
        public var dataTimeout = 600
        /// Seconds before one "delayed" report goes to the sender; 0: never.
        public var delayWarning = 4 * 3600
        /// Outbound connections at once (all destinations), and to one destination; a
        /// destination starts at `initialConcurrency` and widens while deliveries succeed.
        public var maxConnections = 100
        public var destinationConcurrency = 20
        public var initialConcurrency = 5
        /// Consecutive connection failures that mark a destination dead for `minBackoff`.
        public var deadAfterFailures = 5
        /// Seconds an idle connection is kept for the next message to that host, and
        /// transactions one connection carries.
        public var connectionCacheTime = 5
        public var connectionReuseLimit = 100
        /// Recipients per transaction.
        public var recipientLimit = 50
        /// Messages the queue manager holds in memory; the rest wait on disk.
        public var activeLimit = 1000
    }

    public enum Backend: String, Sendable, Equatable {
        case sqlite, postgres
    }

    public struct Store: Sendable, Equatable {
        public var backend = Backend.sqlite
        public var url = ""
    }

    public var server = Server()
    public var listen = Listen()
    public var tls = TLS()
    public var auth = Auth()
    public var limits = Limits()
    public var relay = Relay()
    public var dns = DNS()
    /// Per-domain next hop, like Postfix transport_maps: domain (lowercased) -> host:port.
    public var transport: [String: HostPort] = [:]
    public var queue = Queue()
    public var store = Store()
    public var log = Log()
    public var trace = Trace()
    public var authentication = Authentication()
    /// `[filters.clamav]`, `[filters.spam]` and `[[filters.milter]]`: scanners and milters asked before a message is accepted.
    public var filters = ContentFilterConfiguration()
    /// `[sieve] before`: a Sieve script (path, relative to `data_dir`) run before each user's.
    public var sieveBefore: String?
    public var quota = Quota()
    /// `[delivery]`: the store, or mbox / Maildir files of system users.
    public var delivery = SpoolConfiguration()

    /// `[quota]`: what a full mailbox means to senders, and the warning before it fills.
    public struct Quota: Sendable, Equatable {
        /// A full mailbox refuses mail temporarily (`452 4.2.2`, the sender retries for days
        /// while the user makes room), or permanently (`552 5.2.2`) when false, like Dovecot's
        /// `quota_full_tempfail`.
        public var fullTempfail = true
        /// Deliver a warning into the user's INBOX when delivery takes an account to this share
        /// of a limit (0: never); once, until usage falls below it again.
        public var warningPercent = 90
        /// Accounts that may change quotas over IMAP (SETQUOTA, RFC 9208 §4.1).
        public var admins: [String] = []
    }

    /// `[authentication]`: how mail from elsewhere is checked (SPF, DKIM, DMARC).
    public struct Authentication: Sendable, Equatable {
        /// Check mail from clients that are neither authenticated nor in a trusted network, and
        /// add an Authentication-Results field with what was found.
        public var verify = true
        /// Refuse (550 5.7.1) mail that fails DMARC when its From: domain publishes `p=reject`.
        public var dmarcReject = true
        /// Deliver into the recipients' Junk mail that fails DMARC when its domain publishes
        /// `p=quarantine` (and `p=reject` when `dmarcReject` is off).
        public var dmarcQuarantine = true
        /// The Public Suffix List, for DMARC's organizational domains (Debian's `publicsuffix`).
        public var publicSuffixList = "/usr/share/publicsuffix/public_suffix_list.dat"
    }

    /// `[trace]`: every message's hops, stored for `swallow trace` and the console.
    public struct Trace: Sendable, Equatable {
        /// Days a message's trace is kept (0: the trace is off).
        public var retentionDays = 30
    }

    public enum LogFormat: String, Sendable, Equatable {
        /// One line per event: time, level, message, metadata (swift-log's stream format).
        case text
        /// One JSON object per line, for log shippers.
        case json
    }

    /// `[log]`: what the server writes to standard error.
    public struct Log: Sendable, Equatable {
        public var level: Logger.Level = .info
        public var format = LogFormat.text
    }

    /// Where this configuration was read from (for messages and relative paths).
    public var sourcePath = ""

    public init() {}

    // MARK: Derived paths

    public var dataDirectory: URL {
        let base = URL(fileURLWithPath: sourcePath).deletingLastPathComponent()
        return server.dataDir.hasPrefix("/") ? URL(fileURLWithPath: server.dataDir)
            : base.appendingPathComponent(server.dataDir).standardizedFileURL
    }

    /// DKIM keys: `dkim/DOMAIN/SELECTOR.pem` in the data directory.
    public var dkimDirectory: String { dataFile("dkim") }

    public func dataFile(_ name: String) -> String {
        name.hasPrefix("/") ? name : dataDirectory.appendingPathComponent(name).path
    }

    public var databasePath: String { dataFile("swallow.sqlite") }
    public var certificatePath: String { dataFile(tls.certificate) }
    public var privateKeyPath: String { dataFile(tls.privateKey) }
    /// nil: verify the smarthost with the system's roots.
    public var smarthostCAPath: String? { relay.smarthostCAFile.isEmpty ? nil : dataFile(relay.smarthostCAFile) }
}

/// A configuration problem: one line naming the file and the key (DESIGN.md §4, issue 2).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public let file: String
    public let key: String?
    public let message: String

    public init(file: String, key: String?, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { return "\(file): \(key): \(message)" }
        return "\(file): \(message)"
    }
}
