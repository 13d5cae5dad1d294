import Foundation
import MailAuth
import MailCore
import MailQueue
import LineFraming
import SMTPProtocol

/// One SMTP/LMTP session's state and protocol decisions (DESIGN.md §5.4): commands in,
/// actions out. It does no I/O; `SMTPDriver` performs the actions (replies,
/// directory lookups, commits) and feeds the results back.
struct SMTPSession {
    /// A recipient accepted at RCPT time.
    struct Recipient: Sendable {
        /// The address as the client gave it.
        var address: String
        var parameters: RcptParameters
        /// Local accounts it resolved to (one copy each) and addresses it forwards to.
        var accounts: [Account]
        var remote: [String]
    }

    struct Transaction: Sendable {
        let queueID: QueueID
        /// "" for the null reverse-path. A milter may change it (SMFIR_CHGFROM).
        var sender: String
        let parameters: MailParameters
        /// The SASL mechanism the client logged in with, if it did (a milter's `{auth_type}`).
        var authMechanism: String?
        var recipients: [Recipient] = []
        /// BDAT: the message so far (RFC 3030), kept only while within the size limit.
        var chunks: [UInt8] = []
        var chunkedSize = 0
    }

    /// What the handler must do next.
    enum Action {
        case reply(SMTPReply)
        /// Reply, then close the connection.
        case close(SMTPReply)
        /// Reply 220, then start TLS; fails the connection if bytes are already buffered.
        case startTLS
        /// Resolve the recipient through the directory, then call `recipientResolved`.
        case resolveRecipient(EmailAddress, RcptParameters)
        /// Check that the authenticated account may use this sender, then call `senderChecked`.
        case checkSender(EmailAddress?, MailParameters)
        /// Run a SASL exchange (RFC 4954) with this mechanism and decoded initial response, then
        /// call `authenticated(as:)` or `authenticationFailed(maxFailures:)`.
        case authenticate(SASLMechanismName, initialResponse: [UInt8]?)
        /// Read the message after 354 with a DataDecoder.
        case readData
        /// Read `size` octets of a BDAT chunk; `last` ends the message. With a `rejection` the
        /// chunk is read and discarded (RFC 3030 §2: the client sends it anyway) and the
        /// rejection sent after it.
        case readChunk(size: Int, last: Bool, rejection: SMTPReply?)
    }

    let configuration: SMTPServerConfiguration
    let clientIP: String
    /// The client's address is in `trusted_networks`.
    let clientInTrustedNetwork: Bool
    var tlsAvailable: Bool
    private(set) var tlsActive: Bool
    private(set) var heloName: String?
    private(set) var esmtp = false
    private(set) var account: Account?
    /// The mechanism of the AUTH under way, then of the login that succeeded.
    private var pendingMechanism: String?
    private(set) var authMechanism: String?
    private(set) var transaction: Transaction?
    private(set) var errors = 0
    private(set) var authenticationFailures = 0

    init(configuration: SMTPServerConfiguration, clientIP: String, tlsAvailable: Bool, tlsActive: Bool) {
        self.configuration = configuration
        self.clientIP = clientIP
        self.clientInTrustedNetwork = configuration.isTrustedClient(clientIP)
        self.tlsAvailable = tlsAvailable
        self.tlsActive = tlsActive
    }

    var role: SMTPRole { configuration.role }

    /// Whether this client may relay without authenticating. A client that greets with our own
    /// name is our own outbound delivery come back (an MX or transport pointing at this host):
    /// relaying it again would loop, so it is never trusted (DESIGN.md §4, no mail loops).
    var clientTrusted: Bool {
        clientInTrustedNetwork && heloName?.lowercased() != configuration.hostname.lowercased()
    }

    /// RFC 4954 §4 and Postfix's `smtpd_tls_auth_only`: no authentication of any kind before
    /// TLS, unless the administrator allowed plaintext authentication.
    var authenticationAllowed: Bool { configuration.authPolicy.allowsAuthentication(tlsActive: tlsActive) }

    var greeting: SMTPReply {
        .greeting(hostname: configuration.hostname, text: role.isLMTP ? "LMTP Swallow" : "ESMTP Swallow")
    }

    /// Counts a failed command; too many close the session.
    mutating func error(_ reply: SMTPReply) -> Action {
        errors += 1
        if errors >= configuration.maxErrors { return .close(.tooManyErrors(hostname: configuration.hostname)) }
        return .reply(reply)
    }

    // MARK: Commands

    mutating func handle(_ command: SMTPCommand) -> Action {
        switch command {
        case .ehlo(let name), .lhlo(let name):
            if role.isLMTP != (command.verb == "LHLO") {
                // RFC 2033 §4.1: LMTP has no HELO/EHLO; SMTP has no LHLO.
                return error(.commandUnrecognized)
            }
            heloName = name
            esmtp = true
            transaction = nil
            return .reply(.ehlo(hostname: configuration.hostname, greeting: "Hello \(name)", capabilities: capabilities))
        case .helo(let name):
            guard !role.isLMTP else { return error(.commandUnrecognized) }
            heloName = name
            esmtp = false
            transaction = nil
            return .reply(.helo(hostname: configuration.hostname))
        case .mail(let reversePath, let parameters):
            return mail(reversePath, parameters)
        case .rcpt(let forwardPath, let parameters):
            return rcpt(forwardPath, parameters)
        case .data:
            guard let t = transaction else { return error(.needMailCommand) }
            guard !t.recipients.isEmpty else { return error(.noValidRecipients) }
            guard t.parameters.body != .binaryMIME else {
                // RFC 3030 §3: BINARYMIME messages must be sent with BDAT.
                return error(.binaryMIMERequiresBDAT)
            }
            guard t.chunkedSize == 0 else { return error(.dataAfterBDAT) }
            return .readData
        case .bdat(let size, let last):
            guard let t = transaction else {
                return .readChunk(size: size, last: last, rejection: .needMailCommand)
            }
            guard !t.recipients.isEmpty else {
                return .readChunk(size: size, last: last, rejection: .noValidRecipients)
            }
            return .readChunk(size: size, last: last, rejection: nil)
        case .rset:
            transaction = nil
            return .reply(.ok)
        case .noop:
            return .reply(.ok)
        case .quit:
            return .close(.serviceClosing)
        case .vrfy:
            // RFC 5321 §3.5.3: 252 rather than revealing which users exist.
            return .reply(.cannotVerify)
        case .expn:
            return error(.expnDisabled)
        case .help:
            return .reply(.help("Swallow: see RFC 5321"))
        case .starttls:
            guard !role.isLMTP, tlsAvailable, !tlsActive else {
                return error(tlsActive ? .badSequence : .startTLSNotOffered)
            }
            return .startTLS
        case .auth(let mechanism, let initialResponse):
            return auth(mechanism, initialResponse)
        }
    }

    /// RFC 5321 §4.1.1.1 EHLO keywords, with the RFC of each.
    var capabilities: [String] {
        var caps = ["PIPELINING", "SIZE \(configuration.maxMessageSize)", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                    "CHUNKING", "BINARYMIME", "DSN"]
        if !role.isLMTP {
            if tlsAvailable && !tlsActive { caps.append("STARTTLS") }
            let mechanisms = offeredMechanisms
            if !mechanisms.isEmpty { caps.append("AUTH " + mechanisms.joined(separator: " ")) }
        }
        return caps
    }

    /// PLAIN and LOGIN send the password itself: only under TLS unless the admin allowed it
    /// (DESIGN.md §4). SCRAM never reveals it.
    var offeredMechanisms: [String] {
        if account != nil { return [] }
        return configuration.authPolicy.offeredMechanisms(tlsActive: tlsActive).map(\.rawValue)
    }

    private mutating func mail(_ reversePath: String, _ raw: [ESMTPParameter]) -> Action {
        guard heloName != nil else { return error(.needHelo) }
        guard transaction == nil else { return error(.nestedMail) }
        if role.requiresAuthentication && account == nil {
            return error(tlsActive || !tlsAvailable ? .authenticationRequired : .startTLSRequired)
        }
        let parameters: MailParameters
        do {
            parameters = try MailParameters(raw)
        } catch {
            return self.error(error.reply)
        }
        if !esmtp && !raw.isEmpty { return error(.parametersNotRecognized) }
        if let size = parameters.size, size > UInt64(configuration.maxMessageSize) { return error(.messageTooBig) }
        let sender: EmailAddress?
        if reversePath.isEmpty {
            sender = nil
        } else {
            do {
                sender = try SMTPPath.parseReversePath("<\(reversePath)>", allowUTF8: parameters.smtpUTF8)
            } catch {
                return self.error(.badSenderSyntax("\(error)"))
            }
        }
        // RFC 6409 §8.1: an authenticated session may only use its own addresses, whatever the
        // port it came in on (the audit found port 25 let it send as anyone).
        if account != nil {
            return .checkSender(sender, parameters)
        }
        return senderAccepted(sender, parameters)
    }

    /// After `checkSender`: nil means the sender is allowed.
    mutating func senderChecked(_ sender: EmailAddress?, _ parameters: MailParameters, allowed: Bool) -> Action {
        guard allowed else {
            return error(.senderNotOwned(sender?.description ?? "", user: account?.address ?? ""))
        }
        return senderAccepted(sender, parameters)
    }

    private mutating func senderAccepted(_ sender: EmailAddress?, _ parameters: MailParameters) -> Action {
        transaction = Transaction(queueID: QueueID.make(), sender: sender?.description ?? "", parameters: parameters,
                                  authMechanism: account == nil ? nil : authMechanism)
        return .reply(.senderOk)
    }

    private mutating func rcpt(_ forwardPath: String, _ raw: [ESMTPParameter]) -> Action {
        guard let t = transaction else { return error(.needMailCommand) }
        guard t.recipients.count < configuration.maxRecipients else { return .reply(.tooManyRecipients) }
        let parameters: RcptParameters
        do {
            parameters = try RcptParameters(raw)
        } catch {
            return self.error(error.reply)
        }
        let address: EmailAddress
        do {
            address = try SMTPPath.parseForwardPath("<\(forwardPath)>", allowUTF8: t.parameters.smtpUTF8)
        } catch {
            return self.error(.badRecipientSyntax("\(error)"))
        }
        // `<Postmaster>` without a domain (RFC 5321 §4.5.1) comes back with domain "": the
        // handler resolves it against the local domains.
        return .resolveRecipient(address, parameters)
    }

    enum Resolution: Sendable {
        case local(accounts: [Account], forward: [String])
        case remote
        case unknown
        /// The reply: temporary or permanent as configured.
        case overQuota(SMTPReply)
        case failed(String)
    }

    /// After `resolveRecipient`.
    mutating func recipientResolved(_ address: EmailAddress, _ parameters: RcptParameters, _ resolution: Resolution) -> Action {
        guard transaction != nil else { return .reply(.badSequence) }
        switch resolution {
        case .unknown:
            return error(.userUnknown(address.description))
        case .overQuota(let reply):
            // RFC 3463 X.2.2 mailbox full.
            return .reply(reply)
        case .failed:
            return .reply(.temporaryLookupFailure)
        case .remote:
            guard !role.isLMTP else { return error(.userUnknown(address.description)) }
            // DESIGN.md §4: no open relay.
            guard account != nil || clientTrusted else { return error(.relayDenied) }
            transaction!.recipients.append(Recipient(address: address.description, parameters: parameters, accounts: [], remote: [address.description]))
            return .reply(.recipientOk)
        case .local(let accounts, let forward):
            transaction!.recipients.append(Recipient(address: address.description, parameters: parameters, accounts: accounts, remote: forward))
            return .reply(.recipientOk)
        }
    }

    /// The message is stored (or failed): the transaction is over either way.
    mutating func endTransaction() -> Transaction? {
        defer { transaction = nil }
        return transaction
    }

    mutating func appendChunk(_ bytes: ArraySlice<UInt8>) {
        guard transaction != nil else { return }
        transaction!.chunkedSize += bytes.count
        if transaction!.chunkedSize <= configuration.maxMessageSize { transaction!.chunks.append(contentsOf: bytes) }
    }

    var chunkedSizeExceeded: Bool { (transaction?.chunkedSize ?? 0) > configuration.maxMessageSize }

    // MARK: AUTH (RFC 4954)

    private mutating func auth(_ mechanismName: String, _ initialResponse: String?) -> Action {
        guard !role.isLMTP else { return error(.commandUnrecognized) }
        guard esmtp else { return error(.needEhlo) }
        guard account == nil else { return error(.alreadyAuthenticated) }
        guard transaction == nil else { return error(.authDuringTransaction) }
        guard let mechanism = SASLMechanismName(caseInsensitive: mechanismName) else {
            return error(.unrecognizedAuthenticationType)
        }
        guard authenticationAllowed else { return error(.startTLSRequired) }
        guard configuration.authPolicy.allows(mechanism, tlsActive: tlsActive) else { return error(.encryptionRequired) }
        var initial: [UInt8]? = nil
        if let initialResponse {
            guard let decoded = SASLResponseLine.decodeInitialResponse(initialResponse) else { return error(.invalidBase64) }
            initial = decoded
        }
        pendingMechanism = mechanism.rawValue
        return .authenticate(mechanism, initialResponse: initial)
    }

    mutating func authenticated(as account: Account) {
        self.account = account
        authMechanism = pendingMechanism
    }

    /// A rejected login: past the limit the connection is closed (a guesser gets three tries
    /// per connection, then pays for a new connection and the throttle's delay).
    mutating func authenticationFailed(maxFailures: Int) -> Action {
        authenticationFailures += 1
        if authenticationFailures >= maxFailures {
            return .close(.tooManyAuthenticationFailures(hostname: configuration.hostname))
        }
        return error(.authenticationFailed)
    }

    /// After a TLS handshake: RFC 3207 §4.2, forget everything learned before it.
    mutating func tlsStarted() {
        tlsActive = true
        heloName = nil
        esmtp = false
        account = nil
        transaction = nil
    }
}
