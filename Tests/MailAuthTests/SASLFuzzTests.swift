import Testing

@testable import MailAuth

/// Seeded random-input tests: each mechanism is driven with random and mutated messages.
/// Nothing may crash, every exchange must end within a few steps, and no random input may
/// authenticate.
@Suite("SASL fuzzing")
struct SASLFuzzTests {
    static let iterations = 3000
    static let maxSteps = 8
    static let secretPassword = "correct horse battery staple"
    static let credentials = SCRAMCredentials.derive(password: secretPassword, salt: Array("fuzz salt".utf8), iterations: 4096)

    /// Plays the caller's part: answers lookups and password checks as a directory with one
    /// user ("user") would, and feeds `nextInput` whenever the machine waits for the client.
    static func drive(
        _ mechanism: SASLMechanismName, using rng: inout SeededGenerator,
        nextInput: (inout SeededGenerator, Int) -> [UInt8]
    ) -> SASLAction {
        var server = SASLServer(mechanism: mechanism)
        let initial: [UInt8]? = Bool.random(using: &rng) ? nil : nextInput(&rng, 0)
        var action = server.start(initialResponse: initial)
        for step in 1...maxSteps {
            switch action {
            case .challenge:
                action = Int.random(in: 0..<50, using: &rng) == 0 ? server.abort() : server.receive(nextInput(&rng, step))
            case .verifyPassword(let authcid, _, let password):
                action = server.passwordVerified(authcid == "user" && password == secretPassword)
            case .lookupSCRAM(let authcid, _):
                action = server.scramCredentials(authcid == "user" ? credentials : nil)
            case .success, .failure:
                #expect(server.isFinished)
                return action
            }
        }
        // Every mechanism here needs at most four steps; a machine still going is looping.
        Issue.record("\(mechanism) exchange did not finish: \(action)")
        return action
    }

    static func expectNoSuccess(_ action: SASLAction, _ mechanism: SASLMechanismName, seed: UInt64) {
        if case .success = action {
            Issue.record("random input authenticated with \(mechanism) (seed \(seed))")
        }
    }

    @Test("random bytes", arguments: SASLMechanismName.allCases)
    func randomBytes(mechanism: SASLMechanismName) {
        let seed: UInt64 = 0x5A11_0000 + UInt64(mechanism.rawValue.utf8.count)
        var rng = SeededGenerator(seed: seed)
        for _ in 0..<Self.iterations {
            let action = Self.drive(mechanism, using: &rng) { rng, _ in
                let length = Int.random(in: 0...300, using: &rng)
                return Bool.random(using: &rng) ? rng.bytes(count: length) : rng.grammarBytes(count: length)
            }
            Self.expectNoSuccess(action, mechanism, seed: seed)
        }
    }

    @Test("oversized random input", arguments: SASLMechanismName.allCases)
    func oversized(mechanism: SASLMechanismName) {
        var rng = SeededGenerator(seed: 77)
        for _ in 0..<50 {
            let action = Self.drive(mechanism, using: &rng) { rng, _ in
                rng.bytes(count: Int.random(in: SASLLimits.maxMessageBytes...(4 * SASLLimits.maxMessageBytes), using: &rng))
            }
            Self.expectNoSuccess(action, mechanism, seed: 77)
        }
    }

    /// Mutations of messages that would succeed: one changed byte must never still succeed.
    @Test func mutatedPlain() {
        var rng = SeededGenerator(seed: 4616)
        let valid = "\0user\0\(Self.secretPassword)".bytes
        for _ in 0..<Self.iterations {
            let action = Self.drive(.plain, using: &rng) { rng, _ in rng.mutate(valid) }
            Self.expectNoSuccess(action, .plain, seed: 4616)
        }
    }

    @Test func mutatedLogin() {
        var rng = SeededGenerator(seed: 1)
        for _ in 0..<Self.iterations {
            let mutateUser = Bool.random(using: &rng)
            let action = Self.drive(.login, using: &rng) { rng, step in
                // LOGIN: the first input is the user name, the second the password.
                let message = step == 0 || step == 1 ? "user".bytes : Self.secretPassword.bytes
                let isUserStep = message == "user".bytes
                return isUserStep == mutateUser ? rng.mutate(message) : message
            }
            Self.expectNoSuccess(action, .login, seed: 1)
        }
    }

    /// Runs a genuine SCRAM client against the server and mutates one message of its side.
    @Test func mutatedSCRAM() throws {
        var rng = SeededGenerator(seed: 7677)
        for _ in 0..<500 {
            var client = SCRAMClient(username: "user", password: Self.secretPassword)
            var server = SASLServer(mechanism: .scramSHA256)
            let mutateFirst = Bool.random(using: &rng)
            var first = client.clientFirstMessage()
            if mutateFirst { first = rng.mutate(first) }
            var action = server.start(initialResponse: first)
            if case .lookupSCRAM(let authcid, _) = action {
                action = server.scramCredentials(authcid == "user" ? Self.credentials : nil)
            }
            guard case .challenge(let serverFirst) = action else { continue }
            guard var final = try? client.clientFinalMessage(serverFirst: serverFirst) else { continue }
            if !mutateFirst { final = rng.mutate(final) }
            action = server.receive(final)
            if case .challenge = action { action = server.receive([]) }
            // A mutated client-first may still parse (say, a changed nonce byte), but then the
            // client's proof covers a message the server never saw.
            Self.expectNoSuccess(action, .scramSHA256, seed: 7677)
        }
    }

    /// The unmutated path of the test above does succeed, so the mutations are what fail.
    @Test func unmutatedSCRAMSucceeds() throws {
        var client = SCRAMClient(username: "user", password: Self.secretPassword)
        var server = SASLServer(mechanism: .scramSHA256)
        _ = server.start(initialResponse: client.clientFirstMessage())
        guard case .challenge(let serverFirst) = server.scramCredentials(Self.credentials) else {
            Issue.record("expected server-first-message")
            return
        }
        guard case .challenge(let serverFinal) = server.receive(try client.clientFinalMessage(serverFirst: serverFirst)) else {
            Issue.record("expected server-final-message")
            return
        }
        try client.verifyServerFinal(serverFinal)
        #expect(server.receive([]) == .success(authcid: "user", authzid: nil, additionalData: nil))
    }

    /// The client side parses what a hostile server sends: no crash, and nothing but a genuine
    /// server-final-message is accepted.
    @Test func randomServerMessagesToClient() {
        var rng = SeededGenerator(seed: 5802)
        for _ in 0..<Self.iterations {
            var client = SCRAMClient(username: "user", password: "pencil", minimumIterations: 1)
            _ = client.clientFirstMessage()
            let length = Int.random(in: 0...200, using: &rng)
            var message = rng.grammarBytes(count: length)
            if Bool.random(using: &rng) {
                // Often give it a well-formed start so later fields get exercised too.
                message = Array("r=\(rng.next())".utf8) + message
            }
            guard (try? client.clientFinalMessage(serverFirst: message)) != nil else { continue }
            let final = rng.grammarBytes(count: Int.random(in: 0...100, using: &rng))
            #expect(throws: SCRAMClientError.self) { try client.verifyServerFinal(final) }
        }
    }
}

extension SASLFuzzTests {
    /// Reaches the client-final parser with random input after a genuine client-first.
    @Test func randomClientFinal() {
        var rng = SeededGenerator(seed: 0xF1A1)
        for _ in 0..<Self.iterations {
            var server = SASLServer(mechanism: .scramSHA256)
            _ = server.start(initialResponse: "n,,n=user,r=fuzz".bytes)
            guard case .challenge(let serverFirst) = server.scramCredentials(Self.credentials) else {
                Issue.record("expected server-first-message")
                return
            }
            // Half the time, a message that starts right (c= and our nonce) and then goes wrong.
            var message = rng.grammarBytes(count: Int.random(in: 0...120, using: &rng))
            if Bool.random(using: &rng) {
                let nonce = serverFirst.text.split(separator: ",")[0].dropFirst(2)
                message = "c=biws,r=\(nonce),".bytes + message
            }
            var action = server.receive(message)
            if case .challenge = action { action = server.receive([]) }
            Self.expectNoSuccess(action, .scramSHA256, seed: 0xF1A1)
        }
    }
}
