import Logging
import MailAuth
import MailStore
import POP3Protocol

/// Limits and policy of one POP3 listener (`pop3` with STLS, or `pop3s` with implicit TLS).
/// Every limit has a documented default (DESIGN.md §4 "Bounded everything", §5.8).
public struct POP3ServerConfiguration: Sendable {
    /// Greeting and log name.
    public var hostname: String
    /// `pop3s` (RFC 8314 §3.3, port 995): TLS from the first byte. Otherwise `pop3` (port 110),
    /// where STLS (RFC 2595 §4) is offered when the services have a TLS context.
    public var implicitTLS: Bool
    /// USER/PASS and AUTH PLAIN/LOGIN before TLS (Dovecot's `disable_plaintext_auth = no`).
    /// When false they are refused with `-ERR [AUTH]` and not advertised in CAPA (RFC 2595 §4).
    public var allowPlaintextWithoutTLS = false
    /// No login of any kind before STLS (Postfix's `smtpd_tls_auth_only`).
    public var tlsAuthOnly = true

    var authPolicy: AuthenticationPolicy {
        AuthenticationPolicy(allowPlaintextWithoutTLS: allowPlaintextWithoutTLS, tlsAuthOnly: tlsAuthOnly)
    }
    /// Failed logins before the connection is closed.
    public var maxAuthenticationFailures = 3
    /// Longest command line, CRLF included (RFC 2449 §4: 255).
    public var maxCommandLineLength = POP3Limits.maxCommandLineLength
    /// Longest `AUTH` line and SASL response line, CRLF included (12288, see `POP3Limits`).
    public var maxAuthLineLength = POP3Limits.maxAuthLineLength
    /// Protocol errors (syntax, unknown command, wrong state, failed login) before the session
    /// is closed. Dovecot's CLIENT_MAX_BAD_COMMANDS is 20.
    public var maxErrors = 20
    /// Idle time allowed between client commands. RFC 1939 §3: "at least 10 minutes".
    public var idleTimeout: Duration = .seconds(600)
    /// Absolute time from connect to a successful login.
    public var loginTimeout: Duration = .seconds(60)
    /// How long output may stay unread before the connection is closed.
    public var outputStallTimeout: Duration = .seconds(120)
    /// Bytes of pipelined input held while a command's work runs or while a large response
    /// drains, before the server stops reading from the socket.
    public var maxBufferedInput = 64 * 1024

    public init(hostname: String, implicitTLS: Bool = false) {
        self.hostname = hostname
        self.implicitTLS = implicitTLS
    }

    /// The listener's name in logs and in `swallow serve`'s output: `pop3` or `pop3s`.
    public var serviceName: String { implicitTLS ? "pop3s" : "pop3" }

    var parserConfiguration: POP3CommandParser.Configuration {
        POP3CommandParser.Configuration(maxCommandLineLength: maxCommandLineLength,
                                        maxAuthLineLength: max(maxAuthLineLength, maxCommandLineLength))
    }
}

/// What POP3 sessions use: logins (share the authenticator with the other listeners so that
/// guessing on one protocol slows the others too), the store (the INBOX), the logger.
public struct POP3Services: Sendable {
    public var authenticator: Authenticator
    public var store: any MailStore
    public var logger: Logger
    /// Moves mail waiting in an account's mbox file or Maildir into its INBOX before the
    /// maildrop is opened (`MailSpool`; nil: no account has one).
    public var collectSpool: (@Sendable (Account, Logger) async -> Void)?

    public init(authenticator: Authenticator, store: any MailStore, logger: Logger) {
        self.authenticator = authenticator
        self.store = store
        self.logger = logger
    }
}
