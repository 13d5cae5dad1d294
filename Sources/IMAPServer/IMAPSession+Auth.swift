import IMAPProtocol
import MailAuth
import MailStore

/// LOGIN and AUTHENTICATE (RFC 9051 §6.2.2, §6.2.3, SASL-IR RFC 4959).
extension IMAPSession {

    var plaintextAllowed: Bool { tlsActive || configuration.allowPlaintextWithoutTLS }

    func login(username: String, password: String) async throws -> Completion {
        guard plaintextAllowed else {
            // RFC 9051 §6.2.3 with LOGINDISABLED announced.
            throw Failure.no("Plaintext authentication disallowed on non-secure connections.", code: .privacyRequired)
        }
        let account = try? await services.directory.account(login: username)
        let ok = PasswordHash.verify(password, account: account)
        guard ok, let account else {
            logger.notice("authentication failed", metadata: ["login": "\(username.prefix(256))", "mechanism": "LOGIN"])
            await failureDelay()
            throw Failure.no("Authentication failed.", code: .authenticationFailed)
        }
        return try await authenticated(as: account, mechanism: "LOGIN")
    }

    func authenticate(tag: String, mechanism name: String, initialResponse: [UInt8]?) async throws -> Completion {
        guard let mechanism = SASLMechanismName(caseInsensitive: name) else {
            throw Failure.no("Unsupported authentication mechanism.", code: .cannot)
        }
        if mechanism.sendsPlaintextPassword && !plaintextAllowed {
            throw Failure.no("Plaintext authentication disallowed on non-secure connections.", code: .privacyRequired)
        }
        var server = SASLServer(mechanism: mechanism)
        let action = server.start(initialResponse: initialResponse)
        sasl = server
        saslTag = tag
        return try await drive(action)
    }

    /// The client's answer to a challenge (the handler read it with parseAuthenticateResponse).
    func authenticationResponse(_ response: [UInt8]) async -> Outcome {
        guard var server = sasl else { return Outcome(next: .commands, authenticated: account != nil, bad: true) }
        let action = server.receive(response)
        sasl = server
        return await finishStep { try await self.drive(action) }
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
        } catch {
            logger.error("authentication failed with an internal error", metadata: ["error": "\(error)"])
            await tagged(tag, .no, code: .serverBug, "Internal error occurred. Refer to server log for more information.")
        }
        if next != .authenticationResponse {
            sasl = nil
            saslTag = nil
            pendingAccount = nil
        }
        await flushOutput()
        return Outcome(next: next, authenticated: account != nil, bad: bad)
    }

    /// Performs SASL actions until the exchange needs the client again or ends.
    private func drive(_ first: SASLAction) async throws -> Completion {
        var action = first
        while true {
            switch action {
            case .challenge(let bytes):
                await send(.continuationData(bytes))
                return .pending(.authenticationResponse)
            case .verifyPassword(let authcid, _, let password):
                let account = try? await services.directory.account(login: authcid)
                let ok = PasswordHash.verify(password, account: account)
                pendingAccount = account
                guard var server = sasl else { throw Failure.bad("No authentication in progress") }
                action = server.passwordVerified(ok)
                sasl = server
            case .lookupSCRAM(let authcid, _):
                let account = try? await services.directory.account(login: authcid)
                pendingAccount = account
                guard var server = sasl else { throw Failure.bad("No authentication in progress") }
                action = server.scramCredentials(account?.scram.flatMap(SCRAMCredentials.init(storageString:)))
                sasl = server
            case .success(let authcid, _, _):
                guard let account = pendingAccount, account.address.lowercased() == authcid.lowercased() else {
                    await failureDelay()
                    throw Failure.no("Authentication failed.", code: .authenticationFailed)
                }
                return try await authenticated(as: account, mechanism: sasl?.mechanism.rawValue ?? "SASL")
            case .failure(let failure):
                switch failure {
                case .aborted:
                    throw Failure.bad("Authentication aborted by client.")
                case .malformed(let why):
                    throw Failure.bad("Malformed authentication data: \(why)")
                default:
                    logger.notice("authentication failed", metadata: ["reason": "\(failure)",
                                                                       "mechanism": "\(sasl?.mechanism.rawValue ?? "-")"])
                    await failureDelay()
                    throw Failure.no("Authentication failed.", code: .authenticationFailed)
                }
            }
        }
    }

    /// A growing delay before a failure reply (DESIGN.md §4 auth failures per IP).
    func failureDelay() async {
        let delay = await services.throttle.recordFailure(client: clientIP)
        try? await Task.sleep(for: delay)
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
        await services.throttle.recordSuccess(client: clientIP)
        startWatching(account.id)
        return .ok(code: .capability(capabilities), text: "Logged in")
    }
}
