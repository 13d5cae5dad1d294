import Testing

@testable import MailAuth

@Suite("SASL LOGIN (draft-murchison-sasl-login)")
struct SASLLoginTests {
    static let username = "Username:".bytes
    static let password = "Password:".bytes

    @Test func fullExchange() {
        var server = SASLServer(mechanism: .login)
        #expect(server.start(initialResponse: nil) == .challenge(Self.username))
        #expect(server.receive("user@example.test".bytes) == .challenge(Self.password))
        #expect(server.receive("pencil".bytes) == .verifyPassword(authcid: "user@example.test", authzid: nil, password: "pencil"))
        #expect(server.passwordVerified(true) == .success(authcid: "user@example.test", authzid: nil, additionalData: nil))
        #expect(server.isFinished)
    }

    @Test func initialResponseCarriesUsername() {
        var server = SASLServer(mechanism: .login)
        #expect(server.start(initialResponse: "user".bytes) == .challenge(Self.password))
        #expect(server.receive("pencil".bytes) == .verifyPassword(authcid: "user", authzid: nil, password: "pencil"))
        #expect(server.passwordVerified(false) == .failure(.authenticationFailed))
    }

    @Test func emptyInitialResponseAsksForUsername() {
        var server = SASLServer(mechanism: .login)
        #expect(server.start(initialResponse: []) == .challenge(Self.username))
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var username: [UInt8]
        var password: [UInt8]?  // nil: the username step already fails
        var expected: SASLAction
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "UTF-8", username: "jürgen".bytes, password: "pässwörd".bytes,
             expected: .verifyPassword(authcid: "jürgen", authzid: nil, password: "pässwörd")),
        Case(name: "empty username", username: [], password: nil, expected: .failure(.malformed("user name is empty or has control characters"))),
        Case(name: "NUL in username", username: "us\0er".bytes, password: nil, expected: .failure(.malformed("NUL in user name"))),
        Case(name: "LF in username", username: "user\n".bytes, password: nil, expected: .failure(.malformed("user name is empty or has control characters"))),
        Case(name: "invalid UTF-8 username", username: [0x75, 0xFF], password: nil, expected: .failure(.malformed("user name is not UTF-8"))),
        Case(name: "overlong username", username: [UInt8](repeating: 0x61, count: 256), password: nil,
             expected: .failure(.malformed("user name longer than 255 bytes"))),
        Case(name: "empty password", username: "user".bytes, password: [], expected: .failure(.malformed("empty password"))),
        Case(name: "NUL in password", username: "user".bytes, password: "pen\0cil".bytes, expected: .failure(.malformed("NUL in password"))),
        Case(name: "Latin-1 password", username: "user".bytes, password: [0x70, 0xE4, 0x73, 0x73], expected: .failure(.malformed("password is not UTF-8"))),
        Case(name: "overlong password", username: "user".bytes, password: [UInt8](repeating: 0x61, count: 512),
             expected: .failure(.malformed("password longer than 511 bytes"))),
    ]

    @Test("table", arguments: cases)
    func table(_ c: Case) {
        var server = SASLServer(mechanism: .login)
        #expect(server.start(initialResponse: nil) == .challenge(Self.username))
        let afterUser = server.receive(c.username)
        guard let password = c.password else {
            #expect(afterUser == c.expected)
            #expect(server.isFinished)
            return
        }
        #expect(afterUser == .challenge(Self.password))
        #expect(server.receive(password) == c.expected)
    }

    @Test func abortAtPassword() {
        var server = SASLServer(mechanism: .login)
        _ = server.start(initialResponse: "user".bytes)
        #expect(server.abort() == .failure(.aborted))
        #expect(server.receive("pencil".bytes) == .failure(.invalidState))
    }

    @Test func responseWhileVerifying() {
        var server = SASLServer(mechanism: .login)
        _ = server.start(initialResponse: "user".bytes)
        _ = server.receive("pencil".bytes)
        #expect(server.receive("extra".bytes) == .failure(.invalidState))
        #expect(server.passwordVerified(true) == .failure(.invalidState))
    }
}
