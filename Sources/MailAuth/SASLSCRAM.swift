import Crypto

/// SCRAM-SHA-256 server side (RFC 7677, RFC 5802 §5), without channel binding.
///
///     C: client-first-message        n,,n=user,r=<c-nonce>
///     S: server-first-message        r=<c-nonce><s-nonce>,s=<salt>,i=<count>
///     C: client-final-message        c=biws,r=<c-nonce><s-nonce>,p=<proof>
///     S: server-final-message        v=<server signature>
///
/// The server never sees the password: it checks that the proof was made from the key whose
/// hash it stores (StoredKey), and proves in turn that it knows ServerKey.
struct SCRAMServerMachine: SASLMechanismMachine {
    private enum State {
        case awaitingClientFirst
        case awaitingCredentials(SCRAM.ClientFirst)
        case awaitingClientFinal(
            SCRAM.ClientFirst, serverFirst: [UInt8], nonce: [UInt8], credentials: SCRAMCredentials, isKnownUser: Bool)
        case awaitingFinalAcknowledgement(authcid: String, authzid: String?)
        case done
    }

    let configuration: SASLServer.Configuration
    private var state: State = .awaitingClientFirst

    init(configuration: SASLServer.Configuration) {
        self.configuration = configuration
    }

    mutating func start(initialResponse: [UInt8]?) -> SASLAction {
        // RFC 5802 §5: SCRAM is client-first; without an initial response the server sends an
        // empty challenge to ask for it (RFC 4422 §5 item 1).
        guard let initialResponse else { return .challenge([]) }
        return receive(initialResponse)
    }

    mutating func receive(_ response: [UInt8]) -> SASLAction {
        switch state {
        case .awaitingClientFirst:
            switch SCRAM.parseClientFirst(response) {
            case .failure(let failure):
                return fail(failure)
            case .success(let first):
                if let failure = authzidFailure(first.authzid, authcid: first.username, policy: configuration.authzidPolicy) {
                    return fail(failure)
                }
                state = .awaitingCredentials(first)
                return .lookupSCRAM(authcid: first.username, authzid: first.authzid)
            }
        case .awaitingClientFinal(let first, let serverFirst, let nonce, let credentials, let isKnownUser):
            return verifyClientFinal(response, first: first, serverFirst: serverFirst, nonce: nonce,
                                     credentials: credentials, isKnownUser: isKnownUser)
        case .awaitingFinalAcknowledgement(let authcid, let authzid):
            // RFC 4422 §5 item 6c: after data sent as a last challenge the client answers empty.
            guard response.isEmpty else { return fail(.malformed("expected an empty response after server-final-message")) }
            state = .done
            return .success(authcid: authcid, authzid: authzid, additionalData: nil)
        case .awaitingCredentials, .done:
            return fail(.invalidState)
        }
    }

    mutating func scramCredentials(_ credentials: SCRAMCredentials?) -> SASLAction {
        guard case .awaitingCredentials(let first) = state else { return fail(.invalidState) }
        // An unknown user gets credentials nobody can satisfy but that look like a real user's:
        // the server-first-message has the same shape (and, asked twice, the same salt), and the
        // final step does the same work, so neither flow nor timing tell the client that the
        // user does not exist (RFC 5802 §9 notes the exposure). It fails like a wrong password.
        let isKnownUser = credentials != nil
        let credentials = credentials ?? Self.fakeCredentials(
            for: first.username, secret: configuration.unknownUserSecret,
            iterations: configuration.unknownUserIterations)
        let serverNonce = Array(configuration.scramNonce().utf8)
        // RFC 5802 §7: the nonce is printable ASCII without ","; a bad generator is a bug.
        precondition(SCRAM.isValidNonce(serverNonce, limit: SASLLimits.maxMessageBytes), "invalid SCRAM server nonce")
        let nonce = first.clientNonce + serverNonce
        // server-first-message = nonce "," salt "," iteration-count   ; RFC 5802 §7
        let serverFirst = Array("r=".utf8) + nonce
            + Array(",s=\(base64Encode(credentials.salt)),i=\(credentials.iterations)".utf8)
        state = .awaitingClientFinal(
            first, serverFirst: serverFirst, nonce: nonce, credentials: credentials, isKnownUser: isKnownUser)
        return .challenge(serverFirst)
    }

    private mutating func verifyClientFinal(
        _ response: [UInt8], first: SCRAM.ClientFirst, serverFirst: [UInt8], nonce: [UInt8],
        credentials: SCRAMCredentials, isKnownUser: Bool
    ) -> SASLAction {
        let final: SCRAM.ClientFinal
        switch SCRAM.parseClientFinal(response) {
        case .success(let parsed): final = parsed
        case .failure(let failure): return fail(failure)
        }
        let authMessage = SCRAM.authMessage(
            clientFirstBare: first.bare, serverFirst: serverFirst, clientFinalWithoutProof: final.withoutProof)
        // RFC 5802 §3:
        //   ClientSignature := HMAC(StoredKey, AuthMessage)
        //   ClientKey       := ClientProof XOR ClientSignature
        //   and the proof is valid iff H(ClientKey) == StoredKey
        // Computed before looking at the other checks, for every user, so all failures cost
        // the same.
        let clientSignature = hmac(key: credentials.storedKey, authMessage)
        let clientKey = zip(final.proof, clientSignature).map { $0 ^ $1 }
        let proofMatches = constantTimeEquals(Array(SHA256.hash(data: clientKey)), credentials.storedKey)
        // c= must carry exactly our gs2-header (no channel binding data), so that a "y" or
        // authzid cannot be altered in transit (RFC 5802 §5.1 "c="); r= must be the nonce we
        // sent, so the exchange cannot be replayed.
        let bindingMatches = final.channelBinding == first.gs2Header
        let nonceMatches = final.nonce == nonce
        guard proofMatches, bindingMatches, nonceMatches, isKnownUser else { return fail(.authenticationFailed) }

        // server-final-message = "v=" base64(HMAC(ServerKey, AuthMessage))   ; RFC 5802 §3, §7
        let serverFinal = Array("v=\(base64Encode(hmac(key: credentials.serverKey, authMessage)))".utf8)
        switch configuration.finalDataDelivery {
        case .additionalData:
            state = .done
            return .success(authcid: first.username, authzid: first.authzid, additionalData: serverFinal)
        case .challenge:
            state = .awaitingFinalAcknowledgement(authcid: first.username, authzid: first.authzid)
            return .challenge(serverFinal)
        }
    }

    /// Deterministic stand-in credentials for an unknown user: HMAC of the user name under a
    /// server secret, so they are stable per name yet unpredictable without the secret.
    static func fakeCredentials(for username: String, secret: [UInt8], iterations: Int) -> SCRAMCredentials {
        let seed = hmac(key: secret, Array("swallow SCRAM unknown user\0".utf8) + Array(username.utf8))
        return SCRAMCredentials(
            salt: Array(hmac(key: seed, "salt".utf8).prefix(SCRAMCredentials.defaultSaltBytes)),
            iterations: iterations,
            storedKey: hmac(key: seed, "stored key".utf8),
            serverKey: hmac(key: seed, "server key".utf8))
    }

    private mutating func fail(_ failure: SASLFailure) -> SASLAction {
        state = .done
        return .failure(failure)
    }
}
