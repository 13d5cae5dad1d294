/// PLAIN (RFC 4616): one message carrying authzid, authcid and password.
///
///     message   = [authzid] UTF8NUL authcid UTF8NUL passwd   ; RFC 4616 §2
///     authcid   = 1*SAFE ; MUST accept up to 255 octets
///     authzid   = 1*SAFE ; MUST accept up to 255 octets
///     passwd    = 1*SAFE ; MUST accept up to 255 octets
///     SAFE      = UTF1 / UTF2 / UTF3 / UTF4 ; any UTF-8 encoded Unicode character except NUL
struct PlainMachine: SASLMechanismMachine {
    private enum State {
        case awaitingMessage
        case awaitingVerification(authcid: String, authzid: String?)
        case done
    }

    let policy: SASLAuthzidPolicy
    private var state: State = .awaitingMessage

    init(policy: SASLAuthzidPolicy) {
        self.policy = policy
    }

    mutating func start(initialResponse: [UInt8]?) -> SASLAction {
        guard let initialResponse else {
            // RFC 4422 §5 item 1 / RFC 4616 §2: without an initial response the server sends an
            // empty challenge and the client answers with the message.
            return .challenge([])
        }
        return receive(initialResponse)
    }

    mutating func receive(_ response: [UInt8]) -> SASLAction {
        guard case .awaitingMessage = state else { return fail(.invalidState) }
        let parts = response.split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false)
        // Exactly two NULs: fewer or more means a NUL is missing or sits inside a field.
        guard parts.count == 3 else {
            return fail(.malformed("PLAIN message must be authzid NUL authcid NUL password"))
        }
        var authzid: String?
        if !parts[0].isEmpty {
            switch validatedIdentity(parts[0], what: "authzid") {
            case .success(let value): authzid = value
            case .failure(let failure): return fail(failure)
            }
        }
        let authcid: String
        switch validatedIdentity(parts[1], what: "authcid") {
        case .success(let value): authcid = value
        case .failure(let failure): return fail(failure)
        }
        let password: String
        switch validatedPassword(parts[2]) {
        case .success(let value): password = value
        case .failure(let failure): return fail(failure)
        }
        if let failure = authzidFailure(authzid, authcid: authcid, policy: policy) { return fail(failure) }
        state = .awaitingVerification(authcid: authcid, authzid: authzid)
        return .verifyPassword(authcid: authcid, authzid: authzid, password: password)
    }

    mutating func passwordVerified(_ ok: Bool) -> SASLAction {
        guard case .awaitingVerification(let authcid, let authzid) = state else { return fail(.invalidState) }
        state = .done
        return ok ? .success(authcid: authcid, authzid: authzid, additionalData: nil) : .failure(.authenticationFailed)
    }

    private mutating func fail(_ failure: SASLFailure) -> SASLAction {
        state = .done
        return .failure(failure)
    }
}
