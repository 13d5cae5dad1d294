import MailAuth
import MailStore
import POP3Protocol
import Testing
@testable import POP3Server

@Suite("POP3 session state machine")
struct POP3SessionTests {
    static let alice = Account(id: UserID(1), address: "alice@example.test", passwordHash: "$y$x", scram: nil, quotaBytes: 0)
    static let drop = POP3Session.Maildrop(mailbox: MailboxID(7), uidValidity: 1_700_000_000, messages: [
        .init(uid: 10, size: 100, seen: false),
        .init(uid: 11, size: 200, seen: true),
        .init(uid: 15, size: 300, seen: false),
    ])

    func session(tls: Bool = false, tlsAvailable: Bool = true, plaintext: Bool = false) -> POP3Session {
        var config = POP3ServerConfiguration(hostname: "pop.example.test")
        config.allowPlaintextWithoutTLS = plaintext
        return POP3Session(configuration: config, clientIP: "192.0.2.1", tlsAvailable: tlsAvailable, tlsActive: tls)
    }

    /// A session in TRANSACTION over `drop`.
    func loggedIn() -> POP3Session {
        var s = session(tls: true)
        guard case .openMaildrop = s.passwordChecked(.accepted(Self.alice)) else { Issue.record("no maildrop"); return s }
        _ = s.maildropOpened(.success(Self.drop))
        return s
    }

    func reply(_ action: POP3Session.Action) -> POP3Response? {
        switch action {
        case .reply(let r), .close(let r): return r
        default: return nil
        }
    }

    func text(_ action: POP3Session.Action) -> String { reply(action)?.description ?? "\(action)" }

    func lines(_ action: POP3Session.Action) -> (POP3Response, [String])? {
        if case .multiline(let first, let lines) = action { return (first, lines) }
        return nil
    }

    // MARK: AUTHORIZATION

    @Test func greetingIsPositive() {
        #expect(session().greeting.description == "+OK pop.example.test Swallow POP3 ready.")
    }

    /// RFC 2449 §5, RFC 2595 §4: login methods that send passwords only when they may be used.
    @Test func capabilitiesFollowTLSAndPolicy() throws {
        var plain = session()
        let before = try #require(lines(plain.handle(.capa)))
        #expect(before.0.isOK)
        // tls_auth_only: no login method before STLS at all.
        #expect(before.1 == ["CAPA", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS", "IMPLEMENTATION Swallow"])
        var secure = session(tls: true)
        #expect(try #require(lines(secure.handle(.capa))).1 == ["CAPA", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                                                                 "USER", "SASL PLAIN LOGIN SCRAM-SHA-256", "IMPLEMENTATION Swallow"])
        var allowed = session(plaintext: true)
        let allowedCaps = try #require(lines(allowed.handle(.capa))).1
        #expect(allowedCaps.contains("USER") && allowedCaps.contains("SASL PLAIN LOGIN SCRAM-SHA-256") && allowedCaps.contains("STLS"))
        var noTLS = session(tlsAvailable: false)
        #expect(!(try #require(lines(noTLS.handle(.capa))).1.contains("STLS")))
        var inside = loggedIn()
        #expect(try #require(lines(inside.handle(.capa))).1 == ["CAPA", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
                                                                 "IMPLEMENTATION Swallow"])
    }

    @Test func plaintextLoginIsRefusedBeforeTLS() {
        var s = session()
        #expect(text(s.handle(.user("alice@example.test")))
                == "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first")
        #expect(text(s.handle(.pass("secret"))).hasPrefix("-ERR [AUTH] Plaintext"))
        #expect(text(s.handle(.auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHB3"))).hasPrefix("-ERR [AUTH] Plaintext"))
        #expect(text(s.handle(.auth(mechanism: "LOGIN", initialResponse: nil))).hasPrefix("-ERR [AUTH] Plaintext"))
        // tls_auth_only (the default): not even SCRAM before STLS.
        #expect(text(s.handle(.auth(mechanism: "SCRAM-SHA-256", initialResponse: nil))).hasPrefix("-ERR [AUTH]"))
        var noTLS = session(tlsAvailable: false)
        #expect(text(noTLS.handle(.user("a"))) == "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections")
    }

    @Test func userPassFlow() {
        var s = session(plaintext: true)
        #expect(text(s.handle(.pass("pw"))) == "-ERR Send USER first")
        #expect(reply(s.handle(.user("alice@example.test")))?.isOK == true)
        guard case .checkPassword(let login, let password) = s.handle(.pass("pw")) else { Issue.record("no check"); return }
        #expect(login == "alice@example.test" && password == "pw")
        #expect(text(s.passwordChecked(.rejected)) == "-ERR [AUTH] Authentication failed")
        #expect(text(s.handle(.pass("pw"))) == "-ERR Send USER first", "a failed PASS needs a new USER")
        _ = s.handle(.user("alice@example.test"))
        _ = s.handle(.pass("pw"))
        #expect(text(s.passwordChecked(.unavailable)).hasPrefix("-ERR [SYS/TEMP]"))
        _ = s.handle(.user("alice@example.test"))
        _ = s.handle(.pass("pw"))
        guard case .openMaildrop(let account) = s.passwordChecked(.accepted(Self.alice)) else { Issue.record("no open"); return }
        #expect(account == Self.alice && s.state == .authorization, "TRANSACTION only once the maildrop is open")
        #expect(text(s.maildropOpened(.success(Self.drop))) == "+OK Logged in: 3 messages (600 octets)")
        #expect(s.state == .transaction)
    }

    @Test func maildropFailureLeavesTheSessionInAuthorization() {
        var s = session(tls: true)
        _ = s.passwordChecked(.accepted(Self.alice))
        #expect(text(s.maildropOpened(.failure(.temporary("disk")))) == "-ERR [SYS/TEMP] Cannot open the maildrop right now, try again later")
        #expect(s.state == .authorization && s.account == nil)
        _ = s.passwordChecked(.accepted(Self.alice))
        #expect(text(s.maildropOpened(.failure(.notPermitted("x")))).hasPrefix("-ERR [SYS/PERM]"))
    }

    @Test func authCommand() throws {
        var s = session(tls: true)
        let list = try #require(lines(s.handle(.auth(mechanism: nil, initialResponse: nil))))
        #expect(list.0.isOK && list.1 == ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
        #expect(text(s.handle(.auth(mechanism: "CRAM-MD5", initialResponse: nil))) == "-ERR Unsupported authentication mechanism")
        #expect(text(s.handle(.auth(mechanism: "PLAIN", initialResponse: "AAA*"))).hasPrefix("-ERR Invalid base64"))
        // RFC 5034 §4: "=" is an empty initial response.
        guard case .authenticate(.plain, let empty) = s.handle(.auth(mechanism: "PLAIN", initialResponse: "=")), empty == [] else {
            Issue.record("no empty initial response")
            return
        }
        guard case .authenticate(.plain, let initial) = s.handle(.auth(mechanism: "plain", initialResponse: "AGFsaWNlQGV4YW1wbGUudGVzdABwdw==")),
              initial == Array("\u{0}alice@example.test\u{0}pw".utf8) else {
            Issue.record("PLAIN with initial response")
            return
        }
        guard case .openMaildrop = s.authenticated(as: Self.alice) else { Issue.record("no open"); return }
    }

    @Test func commandsOutOfState() {
        var s = session(plaintext: true)
        for command: POP3Command in [.stat, .list(nil), .retr(1), .dele(1), .noop, .rset, .top(1, lines: 0), .uidl(nil)] {
            #expect(text(s.handle(command)) == "-ERR \(command.keyword) is not valid in the AUTHORIZATION state: log in first")
        }
        #expect(text(s.handle(.apop(name: "a", digest: "b"))) == "-ERR APOP is not supported: use USER/PASS or AUTH")
        var t = loggedIn()
        for command: POP3Command in [.user("a"), .pass("b"), .auth(mechanism: "PLAIN", initialResponse: nil), .stls, .apop(name: "a", digest: "b")] {
            #expect(text(t.handle(command)) == "-ERR \(command.keyword) is not valid in the TRANSACTION state: already logged in")
        }
    }

    /// RFC 2595 §4.
    @Test func stls() {
        var s = session()
        guard case .startTLS = s.handle(.stls) else { Issue.record("no STLS"); return }
        _ = s.handle(.user("x"))  // refused anyway, but make sure TLS forgets what came before
        s.tlsStarted()
        #expect(s.tlsActive && s.user == nil && s.account == nil)
        #expect(text(s.handle(.stls)) == "-ERR Command not permitted when TLS active")
        var none = session(tlsAvailable: false)
        #expect(text(none.handle(.stls)) == "-ERR TLS not available")
        var plaintextAllowed = session(plaintext: true)
        _ = plaintextAllowed.handle(.user("alice"))
        plaintextAllowed.tlsStarted()
        #expect(plaintextAllowed.user == nil, "USER before STLS does not carry over (RFC 2595 §4)")
    }

    @Test func tooManyErrorsCloseTheSession() {
        var s = session()
        for _ in 0..<19 {
            guard case .reply = s.error(.error("bad")) else { Issue.record("closed early"); return }
        }
        guard case .close(let r) = s.error(.error("bad")) else { Issue.record("not closed"); return }
        #expect(r.description == "-ERR Too many errors, closing connection")
    }

    // MARK: TRANSACTION (RFC 1939 §5)

    @Test func statListUidl() throws {
        var s = loggedIn()
        #expect(text(s.handle(.stat)) == "+OK 3 600")
        let list = try #require(lines(s.handle(.list(nil))))
        #expect(list.0.description == "+OK 3 messages (600 octets)" && list.1 == ["1 100", "2 200", "3 300"])
        #expect(text(s.handle(.list(2))) == "+OK 2 200")
        #expect(text(s.handle(.list(4))) == "-ERR No such message (the maildrop has 3)")
        #expect(text(s.handle(.list(0))) == "-ERR No such message (the maildrop has 3)")
        #expect(text(s.handle(.list(Int.max))) == "-ERR No such message (the maildrop has 3)")
        let uidl = try #require(lines(s.handle(.uidl(nil))))
        #expect(uidl.1 == ["1 1700000000.10", "2 1700000000.11", "3 1700000000.15"])
        #expect(text(s.handle(.uidl(3))) == "+OK 3 1700000000.15")
        #expect(text(s.handle(.noop)) == "+OK")
        #expect(s.errors == 0, "no such message is not a protocol error")
    }

    @Test func deleteIsOnlyAMarkUntilQuit() throws {
        var s = loggedIn()
        #expect(text(s.handle(.dele(2))) == "+OK Message 2 deleted")
        #expect(text(s.handle(.dele(2))) == "-ERR Message 2 is marked deleted")
        #expect(text(s.handle(.stat)) == "+OK 2 400")
        #expect(try #require(lines(s.handle(.list(nil)))).1 == ["1 100", "3 300"])
        #expect(try #require(lines(s.handle(.uidl(nil)))).1 == ["1 1700000000.10", "3 1700000000.15"])
        #expect(text(s.handle(.list(2))) == "-ERR Message 2 is marked deleted")
        #expect(text(s.handle(.retr(2))) == "-ERR Message 2 is marked deleted")
        #expect(text(s.handle(.top(2, lines: 1))) == "-ERR Message 2 is marked deleted")
        #expect(text(s.handle(.rset)) == "+OK Maildrop has 3 messages (600 octets)")
        #expect(text(s.handle(.stat)) == "+OK 3 600")
        _ = s.handle(.dele(1))
        guard case .update(let mailbox, let seen, let deleted) = s.handle(.quit) else { Issue.record("no update"); return }
        #expect(mailbox == MailboxID(7) && Array(deleted) == [10] && seen.isEmpty)
        #expect(s.state == .update)
        #expect(text(s.updateFinished(.success(1))) == "+OK pop.example.test Swallow POP3 signing off (1 message deleted)")
    }

    @Test func retrAndTop() {
        var s = loggedIn()
        guard case .loadMessage(let mailbox, 3, 15, .none) = s.handle(.retr(3)) else { Issue.record("no load"); return }
        #expect(mailbox == MailboxID(7))
        guard case .sendMessage(let first, let bytes, .none) = s.messageLoaded(number: 3, topLines: nil, .success(Array("abc\r\n".utf8))) else {
            Issue.record("no send")
            return
        }
        #expect(first.description == "+OK 5 octets" && bytes.count == 5)
        guard case .loadMessage(_, 1, 10, .some(5)) = s.handle(.top(1, lines: 5)) else { Issue.record("no TOP"); return }
        guard case .sendMessage(_, _, .some(5)) = s.messageLoaded(number: 1, topLines: 5, .success([])) else { Issue.record("no TOP send"); return }
        #expect(text(s.messageLoaded(number: 2, topLines: nil, .failure(.expunged))) == "-ERR Message 2 was removed by another session")
        #expect(text(s.messageLoaded(number: 2, topLines: nil, .failure(.temporary("x")))).hasPrefix("-ERR [SYS/TEMP]"))
        // RETR marks \Seen at the end (message 3 was unseen; TOP does not count; 2 was already seen).
        _ = s.messageLoaded(number: 2, topLines: nil, .success([]))
        guard case .update(_, let seen, let deleted) = s.handle(.quit) else { Issue.record("no update"); return }
        #expect(Array(seen) == [15] && deleted.isEmpty)
    }

    @Test func droppedConnectionOwesOnlySeenFlags() {
        var s = loggedIn()
        #expect(s.seenOnDisconnect == nil)
        _ = s.handle(.retr(1))
        _ = s.messageLoaded(number: 1, topLines: nil, .success([]))
        _ = s.handle(.dele(3))
        let owed = s.seenOnDisconnect
        #expect(owed?.mailbox == MailboxID(7) && owed.map { Array($0.uids) } == [10])
        // A deleted message is not worth a flag.
        _ = s.handle(.dele(1))
        #expect(s.seenOnDisconnect == nil)
    }

    @Test func quitWithoutChangesClosesAtOnce() {
        var s = loggedIn()
        guard case .close(let r) = s.handle(.quit) else { Issue.record("not closed"); return }
        #expect(r.description == "+OK pop.example.test Swallow POP3 signing off")
        var a = session()
        guard case .close = a.handle(.quit) else { Issue.record("QUIT in AUTHORIZATION"); return }
    }

    /// RFC 1939 §6: a failed UPDATE still closes, with -ERR.
    @Test func failedUpdate() {
        var s = loggedIn()
        _ = s.handle(.dele(1))
        _ = s.handle(.quit)
        guard case .close(let r) = s.updateFinished(.failure(.temporary("locked"))) else { Issue.record("not closed"); return }
        #expect(r.description == "-ERR [SYS/TEMP] Some deleted messages were not removed")
    }

    @Test func emptyMaildrop() throws {
        var s = session(tls: true)
        _ = s.passwordChecked(.accepted(Self.alice))
        #expect(text(s.maildropOpened(.success(.init(mailbox: MailboxID(1), uidValidity: 1, messages: [])))) == "+OK Logged in: 0 messages (0 octets)")
        #expect(text(s.handle(.stat)) == "+OK 0 0")
        #expect(try #require(lines(s.handle(.list(nil)))).1.isEmpty)
        #expect(text(s.handle(.retr(1))) == "-ERR No such message (the maildrop has 0)")
    }
}
