import Testing

@testable import MailAuth

@Suite("SASL PLAIN (RFC 4616)")
struct SASLPlainTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var message: [UInt8]
        var expected: SASLAction
        var policy: SASLAuthzidPolicy = .mustMatchAuthcid
        var testDescription: String { name }
    }

    static let long256 = String(repeating: "a", count: 256)
    static let long255 = String(repeating: "a", count: 255)

    static let cases: [Case] = [
        Case(name: "no authzid", message: "\0user\0pencil".bytes,
             expected: .verifyPassword(authcid: "user", authzid: nil, password: "pencil")),
        Case(name: "authzid equal to authcid", message: "user\0user\0pencil".bytes,
             expected: .verifyPassword(authcid: "user", authzid: "user", password: "pencil")),
        Case(name: "other authzid refused", message: "admin\0user\0pencil".bytes,
             expected: .failure(.authzidNotPermitted)),
        Case(name: "other authzid delegated", message: "admin\0user\0pencil".bytes,
             expected: .verifyPassword(authcid: "user", authzid: "admin", password: "pencil"), policy: .delegateToCaller),
        Case(name: "UTF-8 everywhere", message: "\0jürgen@bücher.example\0pässwörd ✓".bytes,
             expected: .verifyPassword(authcid: "jürgen@bücher.example", authzid: nil, password: "pässwörd ✓")),
        Case(name: "password with spaces and symbols", message: "\0user\0 a b\u{01}=,* ".bytes,
             expected: .verifyPassword(authcid: "user", authzid: nil, password: " a b\u{01}=,* ")),
        Case(name: "255-byte authcid", message: "\0\(long255)\0pw".bytes,
             expected: .verifyPassword(authcid: long255, authzid: nil, password: "pw")),
        Case(name: "511-byte password", message: "\0user\0".bytes + [UInt8](repeating: 0x61, count: 511),
             expected: .verifyPassword(authcid: "user", authzid: nil, password: String(repeating: "a", count: 511))),
        // Malformed.
        Case(name: "single NUL", message: "user\0pencil".bytes, expected: .failure(.malformed("PLAIN message must be authzid NUL authcid NUL password"))),
        Case(name: "no NUL", message: "userpencil".bytes, expected: .failure(.malformed("PLAIN message must be authzid NUL authcid NUL password"))),
        Case(name: "three NULs", message: "\0user\0pen\0cil".bytes, expected: .failure(.malformed("PLAIN message must be authzid NUL authcid NUL password"))),
        Case(name: "trailing NUL", message: "\0user\0pencil\0".bytes, expected: .failure(.malformed("PLAIN message must be authzid NUL authcid NUL password"))),
        Case(name: "leading double NUL", message: "\0\0user\0pencil".bytes, expected: .failure(.malformed("PLAIN message must be authzid NUL authcid NUL password"))),
        Case(name: "only NULs", message: "\0\0".bytes, expected: .failure(.malformed("authcid is empty or has control characters"))),
        Case(name: "empty authcid", message: "\0\0pencil".bytes, expected: .failure(.malformed("authcid is empty or has control characters"))),
        Case(name: "empty password", message: "\0user\0".bytes, expected: .failure(.malformed("empty password"))),
        Case(name: "invalid UTF-8 authcid", message: [0] + "us".bytes + [0xFF] + "er".bytes + [0] + "pw".bytes,
             expected: .failure(.malformed("authcid is not UTF-8"))),
        Case(name: "invalid UTF-8 password", message: "\0user\0".bytes + [0xC3, 0x28],
             expected: .failure(.malformed("password is not UTF-8"))),
        Case(name: "overlong UTF-8 encoding", message: "\0user\0".bytes + [0xC0, 0xAF],
             expected: .failure(.malformed("password is not UTF-8"))),
        Case(name: "invalid UTF-8 authzid", message: [0xFE] + "\0user\0pw".bytes, expected: .failure(.malformed("authzid is not UTF-8"))),
        Case(name: "CR LF in authcid", message: "\0us\r\ner\0pencil".bytes, expected: .failure(.malformed("authcid is empty or has control characters"))),
        Case(name: "256-byte authcid", message: "\0\(long256)\0pw".bytes, expected: .failure(.malformed("authcid longer than 255 bytes"))),
        Case(name: "256-byte authzid", message: "\(long256)\0user\0pw".bytes, expected: .failure(.malformed("authzid longer than 255 bytes"))),
        Case(name: "512-byte password", message: "\0user\0".bytes + [UInt8](repeating: 0x61, count: 512),
             expected: .failure(.malformed("password longer than 511 bytes"))),
    ]

    @Test("message as initial response", arguments: cases)
    func initialResponse(_ c: Case) {
        var server = SASLServer(mechanism: .plain, configuration: .init(authzidPolicy: c.policy))
        #expect(server.start(initialResponse: c.message) == c.expected)
    }

    @Test("message after empty challenge", arguments: cases)
    func afterChallenge(_ c: Case) {
        var server = SASLServer(mechanism: .plain, configuration: .init(authzidPolicy: c.policy))
        #expect(server.start(initialResponse: nil) == .challenge([]))
        #expect(server.receive(c.message) == c.expected)
    }

    @Test func emptyInitialResponseGetsEmptyChallenge() {
        var server = SASLServer(mechanism: .plain)
        #expect(server.start(initialResponse: []) == .challenge([]))
        #expect(server.receive("\0user\0pencil".bytes) == .verifyPassword(authcid: "user", authzid: nil, password: "pencil"))
    }

    @Test("verification result", arguments: [true, false])
    func verification(ok: Bool) {
        var server = SASLServer(mechanism: .plain)
        _ = server.start(initialResponse: "user\0user\0pencil".bytes)
        #expect(!server.isFinished)
        let action = server.passwordVerified(ok)
        #expect(action == (ok ? .success(authcid: "user", authzid: "user", additionalData: nil) : .failure(.authenticationFailed)))
        #expect(server.isFinished)
        #expect(server.passwordVerified(true) == .failure(.invalidState))
        #expect(server.receive("\0user\0pencil".bytes) == .failure(.invalidState))
    }

    @Test func abort() {
        var server = SASLServer(mechanism: .plain)
        #expect(server.start(initialResponse: nil) == .challenge([]))
        #expect(server.abort() == .failure(.aborted))
        #expect(server.isFinished)
        #expect(server.receive("\0user\0pencil".bytes) == .failure(.invalidState))
    }

    @Test func outOfOrderEvents() {
        var server = SASLServer(mechanism: .plain)
        #expect(server.receive("\0user\0pencil".bytes) == .failure(.invalidState))
        var second = SASLServer(mechanism: .plain)
        _ = second.start(initialResponse: nil)
        #expect(second.passwordVerified(true) == .failure(.invalidState))
        var third = SASLServer(mechanism: .plain)
        _ = third.start(initialResponse: nil)
        #expect(third.start(initialResponse: nil) == .failure(.invalidState))
        var fourth = SASLServer(mechanism: .plain)
        _ = fourth.start(initialResponse: "\0user\0pencil".bytes)
        #expect(fourth.scramCredentials(nil) == .failure(.invalidState))
        // A password check that succeeds after a protocol error must not authenticate.
        #expect(fourth.passwordVerified(true) == .failure(.invalidState))
    }

    @Test func overlongMessage() {
        var server = SASLServer(mechanism: .plain)
        let message = "\0user\0".bytes + [UInt8](repeating: 0x61, count: SASLLimits.maxMessageBytes)
        #expect(server.start(initialResponse: message) == .failure(.malformed("initial response longer than 2048 bytes")))
        var other = SASLServer(mechanism: .plain)
        _ = other.start(initialResponse: nil)
        #expect(other.receive(message) == .failure(.malformed("response longer than 2048 bytes")))
    }

    @Test func mechanismNames() {
        #expect(SASLMechanismName(caseInsensitive: "plain") == .plain)
        #expect(SASLMechanismName(caseInsensitive: "Login") == .login)
        #expect(SASLMechanismName(caseInsensitive: "scram-sha-256") == .scramSHA256)
        #expect(SASLMechanismName(caseInsensitive: "SCRAM-SHA-256-PLUS") == nil)
        #expect(SASLMechanismName(caseInsensitive: "CRAM-MD5") == nil)
        #expect(SASLMechanismName.plain.sendsPlaintextPassword)
        #expect(!SASLMechanismName.scramSHA256.sendsPlaintextPassword)
    }
}

extension SASLPlainTests {
    @Test func passwordIsRedactedInDescriptions() {
        let action = SASLAction.verifyPassword(authcid: "user", authzid: nil, password: "pencil")
        #expect(!"\(action)".contains("pencil"))
        #expect(!String(reflecting: action).contains("pencil"))
        var dumped = ""
        dump(action, to: &dumped)
        #expect(!dumped.contains("pencil"))
        let client = SCRAMClient(username: "user", password: "pencil")
        #expect(!"\(client)".contains("pencil"))
        dumped = ""
        dump(client, to: &dumped)
        #expect(!dumped.contains("pencil"))
    }
}
