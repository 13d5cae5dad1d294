import IMAPProtocol
import Logging
import MailAuth
import MailStore
import NIOSSL

/// Limits and policy of one IMAP listener (DESIGN.md §4 "Bounded everything", §5.8).
public struct IMAPServerConfiguration: Sendable {
    /// Bounds on one connection. Every member has a documented default.
    public struct Limits: Sendable {
        /// Longest command line outside literals (RFC 7162 §4 asks clients to stay under 8192).
        public var maxLineLength = IMAPCommandParser.Configuration.defaultMaxLineLength
        /// Largest literal that is not APPEND data.
        public var maxLiteralSize = IMAPCommandParser.Configuration.defaultMaxLiteralSize
        /// Largest non-APPEND command, lines and literals together.
        public var maxCommandSize = IMAPCommandParser.Configuration.defaultMaxCommandSize
        /// Messages in one MULTIAPPEND (RFC 3502) command.
        public var maxAppendMessages = 1000
        /// Commands answered BAD before the connection is closed (Dovecot closes after 20 too).
        public var maxBadCommands = 20
        /// Time allowed before authentication completes (Dovecot's login timeout is 60 s too).
        public var loginTimeout: Duration = .seconds(60)
        /// Inactivity allowed once authenticated, IDLE included (RFC 9051 §5.4: at least 30 minutes).
        public var idleTimeout: Duration = .seconds(30 * 60)
        /// Concurrent connections from one client address (IPv6 per /64). Clients open several
        /// per account (Thunderbird up to 5), and households share one address.
        public var maxConnectionsPerClient = 50
        /// Pipelined input held while a command runs before the server stops reading.
        public var maxBufferedInput = 1 << 20
        /// Bytes of responses buffered before the session waits for the socket to drain.
        public var outputHighWater = 256 * 1024
        /// Messages a single SEARCH may open to look at their text (BODY, TEXT, header keys);
        /// bounds the work of one command on a huge mailbox. Beyond it the search fails with NO [LIMIT].
        public var maxSearchContentMessages = 100_000
        /// Longest mailbox name accepted from a client, in octets (the store enforces its own).
        public var maxMailboxNameLength = MailboxName.maxLength * 4
        public init() {}
    }

    /// Greeting and BYE name.
    public var hostname: String
    /// imaps (port 993): TLS from the first byte (RFC 8314); no STARTTLS then.
    public var implicitTLS: Bool
    /// LOGIN and AUTHENTICATE PLAIN/LOGIN before TLS (Dovecot's `disable_plaintext_auth = no`).
    public var allowPlaintextWithoutTLS = false
    /// Largest APPEND message, announced as APPENDLIMIT (RFC 7889). 64 MiB.
    public var appendLimit = IMAPCommandParser.Configuration.defaultMaxAppendMessageSize
    public var limits = Limits()

    public init(hostname: String, implicitTLS: Bool = false) {
        self.hostname = hostname
        self.implicitTLS = implicitTLS
    }

    /// The parser limits these settings imply.
    var parserConfiguration: IMAPCommandParser.Configuration {
        IMAPCommandParser.Configuration(
            maxLineLength: limits.maxLineLength, maxLiteralSize: limits.maxLiteralSize,
            maxCommandSize: limits.maxCommandSize, maxAppendMessageSize: appendLimit)
    }
}

/// What IMAP sessions use: the directory for logins, the store, the auth throttle, TLS.
public struct IMAPServices: Sendable {
    public var directory: any UserDirectory
    public var store: any MailStore
    public var throttle: AuthThrottle
    public var tls: NIOSSLContext?
    public var logger: Logger

    public init(directory: any UserDirectory, store: any MailStore, throttle: AuthThrottle, tls: NIOSSLContext?, logger: Logger) {
        self.directory = directory; self.store = store; self.throttle = throttle; self.tls = tls; self.logger = logger
    }
}
