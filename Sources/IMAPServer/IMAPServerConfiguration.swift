import IMAPProtocol
import Logging
import MailAuth
import MailStore

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
        /// Largest literal accepted before login (RFC 7888 LITERAL- is 4096 for non-synchronizing
        /// ones): a LOGIN with long quoted credentials fits, a megabyte upload does not.
        public var preLoginLiteralSize = 8192
        /// Failed logins before the connection is closed.
        public var maxAuthenticationFailures = 3
        /// How long output may stay unread before the connection is closed.
        public var outputStallTimeout: Duration = .seconds(120)
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
    /// No login of any kind before STARTTLS (Postfix's `smtpd_tls_auth_only`).
    public var tlsAuthOnly = true

    var authPolicy: AuthenticationPolicy {
        AuthenticationPolicy(allowPlaintextWithoutTLS: allowPlaintextWithoutTLS, tlsAuthOnly: tlsAuthOnly)
    }
    /// Largest APPEND message, announced as APPENDLIMIT (RFC 7889). 64 MiB.
    public var appendLimit = IMAPCommandParser.Configuration.defaultMaxAppendMessageSize
    public var limits = Limits()

    public init(hostname: String, implicitTLS: Bool = false) {
        self.hostname = hostname
        self.implicitTLS = implicitTLS
    }

    /// The parser limits once logged in.
    var parserConfiguration: IMAPCommandParser.Configuration {
        IMAPCommandParser.Configuration(
            maxLineLength: limits.maxLineLength, maxLiteralSize: limits.maxLiteralSize,
            maxCommandSize: limits.maxCommandSize, maxAppendMessageSize: appendLimit)
    }

    /// The parser limits before login: small literals only, refused without a continuation
    /// above the limit, LITERAL- for non-synchronizing ones (RFC 7888 §4), and a
    /// non-synchronizing literal above the limit closes the connection instead of being read.
    var preLoginParserConfiguration: IMAPCommandParser.Configuration {
        IMAPCommandParser.Configuration(
            maxLineLength: min(limits.maxLineLength, 8192), maxLiteralSize: limits.preLoginLiteralSize,
            maxCommandSize: 2 * limits.preLoginLiteralSize + 8192, maxAppendMessageSize: limits.preLoginLiteralSize,
            maxNonSynchronizingLiteralSize: min(limits.preLoginLiteralSize, IMAPCommandParser.Configuration.literalMinusLimit),
            maxDiscardedLiteralSize: limits.preLoginLiteralSize)
    }
}

/// What IMAP sessions use: logins, the store, the process's \Recent tracker.
public struct IMAPServices: Sendable {
    public var authenticator: Authenticator
    public var store: any MailStore
    public var recent: RecentTracker
    /// Whether STARTTLS can be offered (the listener's registry has a TLS context).
    public var tlsAvailable: Bool
    public var logger: Logger
    /// Where SETQUOTA changes limits (nil: SETQUOTA is refused).
    public var quotaAdministration: (any DirectoryAdministration)?
    /// Logins (lowercased) that may use SETQUOTA, and name other users' quota roots.
    public var quotaAdmins: Set<String> = []
    /// Moves mail waiting in an account's mbox file or Maildir into its INBOX (`MailSpool`):
    /// at login, NOOP and IDLE (nil: no account has one).
    public var collectSpool: (@Sendable (Account, Logger) async -> Void)?

    public init(authenticator: Authenticator, store: any MailStore, recent: RecentTracker, tlsAvailable: Bool, logger: Logger) {
        self.authenticator = authenticator; self.store = store; self.recent = recent
        self.tlsAvailable = tlsAvailable; self.logger = logger
    }
}
