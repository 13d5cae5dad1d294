import IMAPProtocol
import MailAuth
import MailCore
import MailStore

/// LOGIN and AUTHENTICATE (RFC 9051 §6.2.2, §6.2.3, SASL-IR RFC 4959).
extension IMAPSession {

    var plaintextAllowed: Bool { configuration.authPolicy.allowsPlaintextPasswords(tlsActive: tlsActive) }

    /// Postfix's `smtpd_tls_auth_only` for IMAP: no login of any kind before STARTTLS unless
    /// the administrator allowed plaintext logins.
    var authenticationAllowed: Bool { configuration.authPolicy.allowsAuthentication(tlsActive: tlsActive) }

    func login(username: String, password: String) async throws -> Completion {
        guard plaintextAllowed else {
            // RFC 9051 §6.2.3 with LOGINDISABLED announced.
            throw Failure.no("Plaintext authentication disallowed on non-secure connections.", code: .privacyRequired)
        }
        switch await services.authenticator.checkPassword(login: username, password: password, client: clientIP) {
        case .authenticated(let account):
            return try await authenticated(as: account, mechanism: "LOGIN")
        case .rejected:
            logger.notice("authentication failed", metadata: ["login": "\(LogSafe.escape(String(username.prefix(256))))", "mechanism": "LOGIN"])
            throw authenticationFailed()
        case .unavailable(let why):
            logger.error("authentication unavailable", metadata: ["reason": "\(why)"])
            throw Self.authenticationUnavailable
        }
    }

    func authenticate(tag: String, mechanism name: String, initialResponse: [UInt8]?) async throws -> Completion {
        guard let mechanism = SASLMechanismName(caseInsensitive: name) else {
            throw Failure.no("Unsupported authentication mechanism.", code: .cannot)
        }
        if !configuration.authPolicy.allows(mechanism, tlsActive: tlsActive) {
            throw Failure.no("Authentication disallowed on non-secure connections: use STARTTLS first.", code: .privacyRequired)
        }
        sasl = SASLExchange(mechanism: mechanism, authenticator: services.authenticator, client: clientIP)
        saslTag = tag
        return try await advance(.start(initialResponse))
    }

    /// The client's answer to a challenge (the driver read it with parseAuthenticateResponse).
    func authenticationResponse(_ response: [UInt8]) async -> Outcome {
        await finishStep { try await self.advance(.respond(response)) }
    }

    /// `*` from the client (RFC 9051 §6.2.2: the server answers BAD).
    func authenticationCancelled() async -> Outcome {
        await finishStep { throw Failure.bad("Authentication aborted by client.") }
    }

    func authenticationResponseError(_ message: String) async -> Outcome {
        await finishStep { throw Failure.bad(message) }
    }

    private func finishStep(_ body: () async throws -> Completion) async -> Outcome {
        let tag = saslTag ?? "*"
        var bad = false
        var next = Next.commands
        do {
            switch try await body() {
            case .ok(let code, let text): await tagged(tag, .ok, code: code, text)
            case .pending(let n): next = n
            case .logout: next = .close
            }
        } catch let failure as Failure {
            bad = failure.status == .bad
            await tagged(tag, failure.status.tagged, code: failure.code, failure.text)
            if await closeAfterTooManyFailures(failure) { next = .close }
        } catch {
            logger.error("authentication failed with an internal error", metadata: ["error": "\(error)"])
            await tagged(tag, .no, code: .serverBug, "Internal error occurred. Refer to server log for more information.")
        }
        if next != .authenticationResponse {
            sasl = nil
            saslTag = nil
        }
        await flushOutput()
        return Outcome(next: next, authenticated: account != nil, bad: bad)
    }

    /// One step of the SASL exchange; a challenge leaves it pending.
    private func advance(_ input: SASLExchange.Input) async throws -> Completion {
        guard var exchange = sasl else { throw Failure.bad("No authentication in progress") }
        let step = await exchange.step(input)
        sasl = exchange
        switch step {
        case .challenge(let bytes):
            await send(.continuationData(bytes))
            return .pending(.authenticationResponse)
        case .authenticated(let account):
            return try await authenticated(as: account, mechanism: exchange.mechanism.rawValue)
        case .rejected:
            logger.notice("authentication failed", metadata: ["mechanism": "\(exchange.mechanism.rawValue)"])
            throw authenticationFailed()
        case .aborted:
            throw Failure.bad("Authentication aborted by client.")
        case .malformed(let why):
            throw Failure.bad("Malformed authentication data: \(why)")
        case .unavailable(let why):
            logger.error("authentication unavailable", metadata: ["reason": "\(why)"])
            throw Self.authenticationUnavailable
        }
    }

    /// RFC 5530 UNAVAILABLE: the directory or database could not decide; not a wrong password.
    static let authenticationUnavailable = Failure.no("Authentication service temporarily unavailable.", code: .unavailable)

    /// Counts a failed login; the caller closes the connection past the limit.
    /// After the tagged NO of the last allowed failure: BYE, and the caller closes.
    func closeAfterTooManyFailures(_ failure: Failure) async -> Bool {
        guard failure.code == .authenticationFailed, authenticationFailures >= configuration.limits.maxAuthenticationFailures else {
            return false
        }
        await send(.condition(.bye, text: "Too many failed authentications."))
        return true
    }

    private func authenticationFailed() -> Failure {
        authenticationFailures += 1
        return Failure.no("Authentication failed.", code: .authenticationFailed)
    }

    private func authenticated(as account: Account, mechanism: String) async throws -> Completion {
        do {
            try await store.prepareAccount(account.id)
        } catch {
            logger.error("cannot prepare account", metadata: ["user": "\(account.address)", "error": "\(error)"])
            throw Failure.no("Internal error occurred. Refer to server log for more information.", code: .serverBug)
        }
        self.account = account
        state = .authenticated
        logger[metadataKey: "user"] = "\(account.address)"
        logger.info("authenticated", metadata: ["mechanism": "\(mechanism)", "tls": "\(tlsActive)"])
        await services.collectSpool?(account, logger)
        startWatching(account.id)
        return .ok(code: .capability(capabilities), text: "Logged in")
    }
}
