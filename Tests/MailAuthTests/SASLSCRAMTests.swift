import Testing

@testable import MailAuth

@Suite("SASL SCRAM-SHA-256 (RFC 7677, RFC 5802)")
struct SASLSCRAMTests {
    // RFC 7677 §3.
    static let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let clientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    static let credentials = SCRAMCredentials.derive(password: "pencil", salt: unb64("W22ZaJ0SNY7soEsUEjb6gQ=="), iterations: 4096)

    static func configuration(
        delivery: SASLFinalDataDelivery = .challenge, policy: SASLAuthzidPolicy = .mustMatchAuthcid
    ) -> SASLServer.Configuration {
        SASLServer.Configuration(
            authzidPolicy: policy, finalDataDelivery: delivery, scramNonce: { serverNonce },
            unknownUserSecret: Array("test secret".utf8))
    }

    /// A server that has received the RFC 7677 client-first-message and sent server-first.
    static func serverAwaitingFinal(delivery: SASLFinalDataDelivery = .challenge) -> SASLServer {
        var server = SASLServer(mechanism: .scramSHA256, configuration: configuration(delivery: delivery))
        _ = server.start(initialResponse: clientFirst.bytes)
        _ = server.scramCredentials(credentials)
        return server
    }

    @Test func rfc7677ExchangeWithFinalChallenge() {
        var server = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration())
        #expect(server.start(initialResponse: nil) == .challenge([]))
        #expect(server.receive(Self.clientFirst.bytes) == .lookupSCRAM(authcid: "user", authzid: nil))
        #expect(server.scramCredentials(Self.credentials) == .challenge(Self.serverFirst.bytes))
        #expect(server.receive(Self.clientFinal.bytes) == .challenge(Self.serverFinal.bytes))
        #expect(!server.isFinished)
        #expect(server.receive([]) == .success(authcid: "user", authzid: nil, additionalData: nil))
        #expect(server.isFinished)
    }

    @Test func rfc7677ExchangeWithAdditionalData() {
        var server = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration(delivery: .additionalData))
        #expect(server.start(initialResponse: Self.clientFirst.bytes) == .lookupSCRAM(authcid: "user", authzid: nil))
        #expect(server.scramCredentials(Self.credentials) == .challenge(Self.serverFirst.bytes))
        #expect(server.receive(Self.clientFinal.bytes) == .success(authcid: "user", authzid: nil, additionalData: Self.serverFinal.bytes))
    }

    @Test func rfc7677Client() throws {
        var client = SCRAMClient(username: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(client.clientFirstMessage() == Self.clientFirst.bytes)
        #expect(try client.clientFinalMessage(serverFirst: Self.serverFirst.bytes) == Self.clientFinal.bytes)
        try client.verifyServerFinal(Self.serverFinal.bytes)
    }

    @Test func clientDetectsForgedServer() throws {
        var client = SCRAMClient(username: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        _ = client.clientFirstMessage()
        _ = try client.clientFinalMessage(serverFirst: Self.serverFirst.bytes)
        #expect(throws: SCRAMClientError.serverSignatureMismatch) {
            try client.verifyServerFinal("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".bytes)
        }
    }

    @Test("client rejects bad server messages", arguments: [
        ("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", SCRAMClientError.nonceMismatch),
        ("r=XOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", .nonceMismatch),
        ("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1", .iterationCountOutOfRange(1)),
        ("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999", .iterationCountOutOfRange(999_999_999)),
        ("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096", .malformedServerMessage("missing or bad i= iteration count")),
        ("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==", .malformedServerMessage("missing or bad i= iteration count")),
        ("r=rOprNGfwEbeRWgbNEkqOabc,s=,i=4096", .malformedServerMessage("missing or bad s= salt")),
        ("r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096", .malformedServerMessage("missing or bad s= salt")),
        ("s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOabc,i=4096", .malformedServerMessage("missing or bad r= nonce")),
        ("m=x,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", .malformedServerMessage("unsupported mandatory extension")),
        ("e=other-error", .malformedServerMessage("missing or bad r= nonce")),
    ])
    func clientRejects(serverFirst: String, error: SCRAMClientError) {
        var client = SCRAMClient(username: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        _ = client.clientFirstMessage()
        #expect(throws: error) { try client.clientFinalMessage(serverFirst: serverFirst.bytes) }
    }

    @Test func clientReportsServerError() throws {
        var client = SCRAMClient(username: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        _ = client.clientFirstMessage()
        _ = try client.clientFinalMessage(serverFirst: Self.serverFirst.bytes)
        #expect(throws: SCRAMClientError.serverError("invalid-proof")) { try client.verifyServerFinal("e=invalid-proof".bytes) }
        var early = SCRAMClient(username: "user", password: "pencil")
        #expect(throws: SCRAMClientError.invalidState) { try early.clientFinalMessage(serverFirst: Self.serverFirst.bytes) }
    }

    // MARK: client-first-message

    struct FirstCase: CustomTestStringConvertible, Sendable {
        var name: String
        var message: [UInt8]
        var expected: SASLAction
        var testDescription: String { name }
        init(_ name: String, _ message: String, _ expected: SASLAction) {
            self.init(name, message.bytes, expected)
        }
        init(_ name: String, _ message: [UInt8], _ expected: SASLAction) {
            self.name = name
            self.message = message
            self.expected = expected
        }
    }

    static let longNonce = String(repeating: "x", count: SASLLimits.maxClientNonceBytes + 1)
    static let longUser = String(repeating: "u", count: 256)

    static let firstCases: [FirstCase] = [
        FirstCase("plain", "n,,n=user,r=abc", .lookupSCRAM(authcid: "user", authzid: nil)),
        FirstCase("y flag", "y,,n=user,r=abc", .lookupSCRAM(authcid: "user", authzid: nil)),
        FirstCase("authzid equal", "n,a=user,n=user,r=abc", .lookupSCRAM(authcid: "user", authzid: "user")),
        FirstCase("authzid other", "n,a=admin,n=user,r=abc", .failure(.authzidNotPermitted)),
        FirstCase("escaped name", "n,,n=a=2Cb=3Dc,r=abc", .lookupSCRAM(authcid: "a,b=c", authzid: nil)),
        FirstCase("UTF-8 name", "n,,n=jürgen,r=abc", .lookupSCRAM(authcid: "jürgen", authzid: nil)),
        FirstCase("optional extension ignored", "n,,n=user,r=abc,x=ext", .lookupSCRAM(authcid: "user", authzid: nil)),
        FirstCase("channel binding", "p=tls-unique,,n=user,r=abc", .failure(.channelBindingNotSupported)),
        FirstCase("channel binding exporter", "p=tls-exporter,,n=user,r=abc", .failure(.channelBindingNotSupported)),
        FirstCase("bad flag", "x,,n=user,r=abc", .failure(.malformed("bad GS2 channel binding flag"))),
        FirstCase("empty flag", ",,n=user,r=abc", .failure(.malformed("bad GS2 channel binding flag"))),
        FirstCase("flag N uppercase", "N,,n=user,r=abc", .failure(.malformed("bad GS2 channel binding flag"))),
        FirstCase("no gs2 header", "n=user,r=abc", .failure(.malformed("bad GS2 channel binding flag"))),
        FirstCase("no comma", "nnuser", .failure(.malformed("no GS2 header"))),
        FirstCase("header not terminated", "n,a=user", .failure(.malformed("GS2 header not terminated"))),
        FirstCase("missing authzid comma", "n,n=user,r=abc", .failure(.malformed("bad authzid in GS2 header"))),
        FirstCase("empty authzid value", "n,a=,n=user,r=abc", .failure(.malformed("bad authzid in GS2 header"))),
        FirstCase("bad authzid escape", "n,a=us=er,n=user,r=abc", .failure(.malformed("bad authzid in GS2 header"))),
        FirstCase("mandatory extension", "n,,m=foo,n=user,r=abc", .failure(.extensionNotSupported)),
        FirstCase("missing username", "n,,r=abc", .failure(.malformed("missing n= user name"))),
        FirstCase("empty bare", "n,,", .failure(.malformed("missing n= user name"))),
        FirstCase("empty username", "n,,n=,r=abc", .failure(.malformed("bad user name escaping"))),
        FirstCase("bad escape =2X", "n,,n=us=2Xer,r=abc", .failure(.malformed("bad user name escaping"))),
        FirstCase("lowercase escape", "n,,n=us=2cer,r=abc", .failure(.malformed("bad user name escaping"))),
        FirstCase("truncated escape", "n,,n=user=3,r=abc", .failure(.malformed("bad user name escaping"))),
        FirstCase("control char in name", "n,,n=us\ter,r=abc", .failure(.malformed("user name is empty or has control characters"))),
        FirstCase("overlong name", "n,,n=\(longUser),r=abc", .failure(.malformed("user name longer than 255 bytes"))),
        FirstCase("missing nonce", "n,,n=user", .failure(.malformed("missing r= nonce"))),
        FirstCase("nonce first", "n,,r=abc,n=user", .failure(.malformed("missing n= user name"))),
        FirstCase("empty nonce", "n,,n=user,r=", .failure(.malformed("bad or overlong client nonce"))),
        FirstCase("non-printable nonce", "n,,n=user,r=ab c", .failure(.malformed("bad or overlong client nonce"))),
        FirstCase("non-ASCII nonce", "n,,n=user,r=abç", .failure(.malformed("bad or overlong client nonce"))),
        FirstCase("overlong nonce", "n,,n=user,r=\(longNonce)", .failure(.malformed("bad or overlong client nonce"))),
        FirstCase("garbage after nonce", "n,,n=user,r=abc,garbage", .failure(.malformed("bad attribute after nonce"))),
        FirstCase("empty attribute", "n,,n=user,r=abc,", .failure(.malformed("bad attribute after nonce"))),
        FirstCase("NUL", "n,,n=us\0er,r=abc", .failure(.malformed("NUL in SCRAM message"))),
        FirstCase("invalid UTF-8", "n,,n=user,r=abc".bytes + [0xFF], .failure(.malformed("SCRAM message is not UTF-8"))),
    ]

    @Test("client-first-message", arguments: firstCases)
    func clientFirstTable(_ c: FirstCase) {
        var server = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration())
        #expect(server.start(initialResponse: c.message) == c.expected)
    }

    @Test func authzidDelegated() {
        var server = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration(policy: .delegateToCaller))
        #expect(server.start(initialResponse: "n,a=admin,n=user,r=abc".bytes) == .lookupSCRAM(authcid: "user", authzid: "admin"))
    }

    @Test func emptyResponseInsteadOfClientFirst() {
        var server = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration())
        #expect(server.start(initialResponse: nil) == .challenge([]))
        #expect(server.receive([]) == .failure(.malformed("empty SCRAM message")))
    }

    // MARK: client-final-message

    static let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

    static let finalCases: [FirstCase] = [
        FirstCase("wrong proof", "c=biws,r=\(nonce),p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", .failure(.authenticationFailed)),
        FirstCase("proof of other password", "c=biws,r=\(nonce),p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", .failure(.authenticationFailed)),
        FirstCase("wrong nonce", "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=\(proof)", .failure(.authenticationFailed)),
        FirstCase("client nonce only", "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=\(proof)", .failure(.authenticationFailed)),
        FirstCase("gs2 header changed to y", "c=eSws,r=\(nonce),p=\(proof)", .failure(.authenticationFailed)),
        FirstCase("missing proof", "c=biws,r=\(nonce)", .failure(.malformed("missing p= proof"))),
        FirstCase("no comma", "c=biws", .failure(.malformed("missing p= proof"))),
        FirstCase("empty proof", "c=biws,r=\(nonce),p=", .failure(.malformed("bad proof"))),
        FirstCase("proof not base64", "c=biws,r=\(nonce),p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", .failure(.malformed("bad proof"))),
        FirstCase("non-canonical base64", "c=biws,r=\(nonce),p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVR=", .failure(.malformed("bad proof"))),
        FirstCase("short proof", "c=biws,r=\(nonce),p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7An", .failure(.malformed("bad proof"))),
        FirstCase("long proof", "c=biws,r=\(nonce),p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQA", .failure(.malformed("bad proof"))),
        FirstCase("missing channel binding", "r=\(nonce),p=\(proof)", .failure(.malformed("missing or bad c= channel binding"))),
        FirstCase("bad channel binding base64", "c=biw,r=\(nonce),p=\(proof)", .failure(.malformed("missing or bad c= channel binding"))),
        FirstCase("missing nonce", "c=biws,p=\(proof)", .failure(.malformed("missing or bad r= nonce"))),
        FirstCase("attributes swapped", "r=\(nonce),c=biws,p=\(proof)", .failure(.malformed("missing or bad c= channel binding"))),
        FirstCase("proof not last", "c=biws,p=\(proof),r=\(nonce)", .failure(.malformed("missing p= proof"))),
        FirstCase("garbage extension", "c=biws,r=\(nonce),junk,p=\(proof)", .failure(.malformed("bad attribute before proof"))),
        FirstCase("NUL", "c=biws,r=\(nonce)\0,p=\(proof)", .failure(.malformed("NUL in SCRAM message"))),
        FirstCase("empty", "", .failure(.malformed("empty SCRAM message"))),
        FirstCase("client-first again", clientFirst, .failure(.malformed("missing p= proof"))),
    ]

    @Test("client-final-message", arguments: finalCases)
    func clientFinalTable(_ c: FirstCase) {
        var server = Self.serverAwaitingFinal()
        #expect(server.receive(c.message) == c.expected)
        #expect(server.isFinished)
    }

    @Test func optionalExtensionInClientFinalIsPartOfAuthMessage() throws {
        // An extension the client adds is covered by the proof: dropping it in transit fails.
        var server = Self.serverAwaitingFinal()
        let withExtension = "c=biws,r=\(Self.nonce),x=1,p=\(Self.proof)"
        #expect(server.receive(withExtension.bytes) == .failure(.authenticationFailed))
    }

    @Test func nonEmptyAcknowledgement() {
        var server = Self.serverAwaitingFinal()
        #expect(server.receive(Self.clientFinal.bytes) == .challenge(Self.serverFinal.bytes))
        #expect(server.receive("x".bytes) == .failure(.malformed("expected an empty response after server-final-message")))
        var aborted = Self.serverAwaitingFinal()
        _ = aborted.receive(Self.clientFinal.bytes)
        #expect(aborted.abort() == .failure(.aborted))
    }

    @Test func outOfOrderEvents() {
        var server = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration())
        _ = server.start(initialResponse: Self.clientFirst.bytes)
        // Waiting for credentials: a client message now is a protocol-layer bug.
        #expect(server.receive(Self.clientFinal.bytes) == .failure(.invalidState))
        var other = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration())
        _ = other.start(initialResponse: nil)
        #expect(other.scramCredentials(Self.credentials) == .failure(.invalidState))
        var third = Self.serverAwaitingFinal()
        #expect(third.passwordVerified(true) == .failure(.invalidState))
        #expect(third.receive(Self.clientFinal.bytes) == .failure(.invalidState))
    }

    // MARK: unknown users

    @Test func unknownUserLooksLikeWrongPassword() throws {
        func serverFirst(for user: String) -> [UInt8]? {
            var server = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration())
            _ = server.start(initialResponse: "n,,n=\(user),r=abc".bytes)
            guard case .challenge(let bytes) = server.scramCredentials(nil) else { return nil }
            return bytes
        }
        let ghost = try #require(serverFirst(for: "ghost"))
        // Same shape as a real user's: r=, s= with a 16-byte salt, the default count.
        let parts = ghost.text.split(separator: ",")
        #expect(parts.count == 3)
        #expect(parts[0] == "r=abc\(Self.serverNonce)")
        #expect(unb64(String(parts[1].dropFirst(2))).count == 16)
        #expect(parts[2] == "i=\(SCRAMCredentials.defaultIterations)")
        // Stable for one name (a real user's salt does not change between attempts either)...
        #expect(serverFirst(for: "ghost") == ghost)
        // ...and different between names.
        #expect(serverFirst(for: "phantom") != ghost)

        // Whatever the client sends, the exchange fails like a wrong password.
        var client = SCRAMClient(username: "ghost", password: "anything", nonce: "abc")
        _ = client.clientFirstMessage()
        let final = try client.clientFinalMessage(serverFirst: ghost)
        var server = SASLServer(mechanism: .scramSHA256, configuration: Self.configuration())
        _ = server.start(initialResponse: "n,,n=ghost,r=abc".bytes)
        _ = server.scramCredentials(nil)
        #expect(server.receive(final) == .failure(.authenticationFailed))
    }

    @Test func unknownUserSecretChangesSalt() {
        func salt(secret: String) -> [UInt8] {
            SCRAMServerMachine.fakeCredentials(for: "ghost", secret: Array(secret.utf8), iterations: 4096).salt
        }
        #expect(salt(secret: "a") != salt(secret: "b"))
        #expect(salt(secret: "a") == salt(secret: "a"))
    }

    // MARK: round trips with SCRAMClient

    struct RoundTrip: CustomTestStringConvertible, Sendable {
        var username: String
        var password: String
        var authzid: String?
        var testDescription: String { "\(username) / \(password)" }
    }

    static let roundTrips: [RoundTrip] = [
        RoundTrip(username: "user@example.test", password: "pencil"),
        RoundTrip(username: "jürgen@bücher.example", password: "pässwörd ✓"),
        RoundTrip(username: "odd,name=here", password: "p,=a s"),
        RoundTrip(username: "user", password: "I\u{00AD}X"),
        RoundTrip(username: "user", password: "pass\tword"),
        RoundTrip(username: "user", password: "x", authzid: "user"),
        RoundTrip(username: "user", password: String(repeating: "long ", count: 100)),
    ]

    @Test("round trip", arguments: roundTrips, [SASLFinalDataDelivery.challenge, .additionalData])
    func roundTrip(_ r: RoundTrip, delivery: SASLFinalDataDelivery) throws {
        let stored = SCRAMCredentials.derive(password: r.password)
        var client = SCRAMClient(username: r.username, password: r.password, authzid: r.authzid)
        var server = SASLServer(mechanism: .scramSHA256, configuration: .init(finalDataDelivery: delivery))

        #expect(server.start(initialResponse: client.clientFirstMessage()) == .lookupSCRAM(authcid: r.username, authzid: r.authzid))
        guard case .challenge(let serverFirst) = server.scramCredentials(stored) else {
            Issue.record("expected server-first-message")
            return
        }
        let action = server.receive(try client.clientFinalMessage(serverFirst: serverFirst))
        switch (delivery, action) {
        case (.challenge, .challenge(let serverFinal)):
            try client.verifyServerFinal(serverFinal)
            #expect(server.receive([]) == .success(authcid: r.username, authzid: r.authzid, additionalData: nil))
        case (.additionalData, .success(let authcid, let authzid, let data?)):
            #expect(authcid == r.username && authzid == r.authzid)
            try client.verifyServerFinal(data)
        default:
            Issue.record("unexpected \(action)")
        }
    }

    @Test("wrong password fails", arguments: ["pencil ", "Pencil", "", "penci"])
    func wrongPassword(_ password: String) throws {
        let stored = SCRAMCredentials.derive(password: "pencil")
        var client = SCRAMClient(username: "user", password: password)
        var server = SASLServer(mechanism: .scramSHA256)
        _ = server.start(initialResponse: client.clientFirstMessage())
        guard case .challenge(let serverFirst) = server.scramCredentials(stored) else {
            Issue.record("expected server-first-message")
            return
        }
        #expect(server.receive(try client.clientFinalMessage(serverFirst: serverFirst)) == .failure(.authenticationFailed))
    }

    @Test func credentialsFromStorageStringWork() throws {
        let stored = try #require(SCRAMCredentials(storageString: SCRAMCredentials.derive(password: "pencil").storageString))
        var client = SCRAMClient(username: "user", password: "pencil")
        var server = SASLServer(mechanism: .scramSHA256, configuration: .init(finalDataDelivery: .additionalData))
        _ = server.start(initialResponse: client.clientFirstMessage())
        guard case .challenge(let serverFirst) = server.scramCredentials(stored) else {
            Issue.record("expected server-first-message")
            return
        }
        guard case .success(_, _, let data?) = server.receive(try client.clientFinalMessage(serverFirst: serverFirst)) else {
            Issue.record("expected success")
            return
        }
        try client.verifyServerFinal(data)
    }

    @Test func defaultNonceIsRandomAndPrintable() {
        let a = SASLServer.randomNonce()
        let b = SASLServer.randomNonce()
        #expect(a != b)
        #expect(a.utf8.count == 32)
        #expect(a.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ",") })
    }
}
