import Delivery
import Filters
import Logging
import MailAuth
import MailAuthentication
import MailQueue
import MailStore
import SMTPProtocol

/// What an SMTP or LMTP listener does (DESIGN.md §1 and §3).
public enum SMTPRole: String, Sendable {
    /// Port 25: mail for our domains from anyone; relaying only for trusted networks and
    /// authenticated sessions.
    case mx = "smtp"
    /// Port 587: STARTTLS, AUTH required before MAIL (RFC 6409).
    case submission
    /// Port 465: the same over implicit TLS (RFC 8314).
    case submissions
    /// LMTP (RFC 2033) from another MTA: local recipients only, one reply per recipient.
    case lmtp

    var requiresAuthentication: Bool { self == .submission || self == .submissions }
    var isLMTP: Bool { self == .lmtp }
}

/// Limits and policy of one SMTP listener. Every limit has a documented default.
public struct SMTPServerConfiguration: Sendable {
    public var role: SMTPRole
    /// EHLO name and greeting.
    public var hostname: String
    /// Largest message accepted (advertised in SIZE, RFC 1870). Postfix's default is 10 MB;
    /// 50 MiB lets today's attachments through.
    public var maxMessageSize = 50 * 1024 * 1024
    /// Longest command line, CRLF included (RFC 5321 §4.5.3.1.4: at least 512).
    public var maxCommandLineLength = SMTPLimits.maxCommandLineLength
    /// Recipients per transaction (RFC 5321 §4.5.3.1.8 requires at least 100; Postfix: 1000).
    public var maxRecipients = 1000
    /// Commands that earn an error reply before the session is closed (Postfix's
    /// smtpd_hard_error_limit is 20).
    public var maxErrors = 20
    /// Idle time allowed between client commands (RFC 5321 §4.5.3.2.7: at least 5 minutes).
    public var idleTimeout: Duration = .seconds(300)
    /// Absolute time from connect to a successful AUTH on submission listeners.
    public var loginTimeout: Duration = .seconds(60)
    /// How long output may stay unread before the connection is closed.
    public var outputStallTimeout: Duration = .seconds(120)
    /// Bytes of pipelined input held while a command's work (a lookup, a commit) runs, before
    /// the server stops reading from the socket.
    public var maxBufferedInput = 1 << 20
    /// PLAIN and LOGIN before TLS (Dovecot's `disable_plaintext_auth = no`); also allows
    /// every other mechanism before TLS.
    public var allowPlaintextWithoutTLS = false
    /// No AUTH of any kind before TLS (Postfix's `smtpd_tls_auth_only`).
    public var tlsAuthOnly = true

    var authPolicy: AuthenticationPolicy {
        AuthenticationPolicy(allowPlaintextWithoutTLS: allowPlaintextWithoutTLS, tlsAuthOnly: tlsAuthOnly)
    }
    /// Whether a client address may relay without authenticating.
    public var isTrustedClient: @Sendable (String) -> Bool = { _ in false }

    public init(role: SMTPRole, hostname: String) {
        self.role = role
        self.hostname = hostname
    }
}

/// What SMTP sessions use: logins, the directory, local delivery, the outbound queue.
public struct SMTPServices: Sendable {
    public var authenticator: Authenticator
    public var store: any MailStore
    public var localDelivery: LocalDeliveryAgent
    public var queue: OutboundQueue
    public var logger: Logger
    /// Where accepted messages are recorded for `swallow trace` (nil: not traced).
    public var trace: MessageTrace?
    /// The DKIM keys of local domains; mail from authenticated or trusted clients whose From:
    /// domain has a key is signed (nil: never signed).
    public var dkim: DKIMKeyring?
    /// SPF, DKIM and DMARC checks of mail from elsewhere (nil: not checked).
    public var inbound: InboundAuthentication?
    /// Virus and spam scanners asked before a message is accepted (nil: none).
    public var filters: ContentFilters?
    /// This server's name, for the scanners (rspamd's `MTA-Name`).
    public var hostname = ""
    /// A full mailbox is a temporary refusal (`452 4.2.2`) rather than `552 5.2.2`.
    public var quotaFullTempfail = true

    /// The reply for a recipient whose mailbox is full (RFC 3463 X.2.2).
    func mailboxFull(_ address: String) -> SMTPReply {
        quotaFullTempfail ? .mailboxFull(address) : .mailboxFullPermanently(address)
    }

    public var directory: any UserDirectory { authenticator.directory }

    public init(authenticator: Authenticator, store: any MailStore, localDelivery: LocalDeliveryAgent,
                queue: OutboundQueue, logger: Logger, trace: MessageTrace? = nil, dkim: DKIMKeyring? = nil) {
        self.authenticator = authenticator; self.store = store; self.localDelivery = localDelivery
        self.queue = queue; self.logger = logger; self.trace = trace; self.dkim = dkim
    }
}

extension SMTPServerConfiguration {
    var parserConfiguration: SMTPCommandParser.Configuration {
        SMTPCommandParser.Configuration(maxCommandLineLength: maxCommandLineLength,
                                        maxAuthLineLength: max(SMTPLimits.maxAuthLineLength, maxCommandLineLength))
    }
}
