/// LOGIN (draft-murchison-sasl-login-00): the server prompts "Username:" then "Password:" and
/// the client answers each with the bare value. There is no authzid.
///
/// Obsolete, but still the only mechanism some Outlook versions, printers and scanners speak.
/// The draft allows any prompt text; these two are the ones every client expects.
struct LoginMachine: SASLMechanismMachine {
    /// draft-murchison-sasl-login §2.
    static let usernameChallenge = Array("Username:".utf8)
    static let passwordChallenge = Array("Password:".utf8)

    private enum State {
        case awaitingUsername
        case awaitingPassword(username: String)
        case awaitingVerification(username: String)
        case done
    }

    private var state: State = .awaitingUsername

    mutating func start(initialResponse: [UInt8]?) -> SASLAction {
        // Clients that send an initial response with LOGIN (e.g. `AUTH LOGIN dXNlcg==`) send the
        // user name in it; the draft's §2 allows it.
        guard let initialResponse else { return .challenge(Self.usernameChallenge) }
        return receive(initialResponse)
    }

    mutating func receive(_ response: [UInt8]) -> SASLAction {
        switch state {
        case .awaitingUsername:
            if response.contains(0) { return fail(.malformed("NUL in user name")) }
            switch validatedIdentity(response, what: "user name") {
            case .success(let username):
                state = .awaitingPassword(username: username)
                return .challenge(Self.passwordChallenge)
            case .failure(let failure):
                return fail(failure)
            }
        case .awaitingPassword(let username):
            switch validatedPassword(response) {
            case .success(let password):
                state = .awaitingVerification(username: username)
                return .verifyPassword(authcid: username, authzid: nil, password: password)
            case .failure(let failure):
                return fail(failure)
            }
        case .awaitingVerification, .done:
            return fail(.invalidState)
        }
    }

    mutating func passwordVerified(_ ok: Bool) -> SASLAction {
        guard case .awaitingVerification(let username) = state else { return fail(.invalidState) }
        state = .done
        return ok ? .success(authcid: username, authzid: nil, additionalData: nil) : .failure(.authenticationFailed)
    }

    private mutating func fail(_ failure: SASLFailure) -> SASLAction {
        state = .done
        return .failure(failure)
    }
}
