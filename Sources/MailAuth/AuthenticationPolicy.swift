/// When a client may log in (DESIGN.md §4, no plaintext passwords on the wire): the one rule
/// SMTP, IMAP and POP3 apply, to what they refuse and to what they announce.
public struct AuthenticationPolicy: Sendable, Hashable {
    /// Dovecot's `disable_plaintext_auth = no`: every method before TLS.
    public var allowPlaintextWithoutTLS: Bool
    /// Postfix's `smtpd_tls_auth_only`: no authentication of any kind before TLS.
    public var tlsAuthOnly: Bool

    public init(allowPlaintextWithoutTLS: Bool = false, tlsAuthOnly: Bool = true) {
        self.allowPlaintextWithoutTLS = allowPlaintextWithoutTLS
        self.tlsAuthOnly = tlsAuthOnly
    }

    /// Methods that send the password itself (PLAIN, LOGIN, IMAP LOGIN, POP3 USER/PASS).
    public func allowsPlaintextPasswords(tlsActive: Bool) -> Bool {
        tlsActive || allowPlaintextWithoutTLS
    }

    /// Any authentication at all; SCRAM before TLS only when `tlsAuthOnly` is off.
    public func allowsAuthentication(tlsActive: Bool) -> Bool {
        allowsPlaintextPasswords(tlsActive: tlsActive) || !tlsAuthOnly
    }

    public func allows(_ mechanism: SASLMechanismName, tlsActive: Bool) -> Bool {
        mechanism.sendsPlaintextPassword ? allowsPlaintextPasswords(tlsActive: tlsActive) : allowsAuthentication(tlsActive: tlsActive)
    }

    /// The SASL mechanisms to announce now, in the order clients expect them.
    public func offeredMechanisms(tlsActive: Bool) -> [SASLMechanismName] {
        [.plain, .login, .scramSHA256].filter { allows($0, tlsActive: tlsActive) }
    }
}
