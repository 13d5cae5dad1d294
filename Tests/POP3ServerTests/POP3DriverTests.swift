import Foundation
import Logging
import MailAuth
import MailStore
import MailStoreSQLite
import NIOCore
import NIOEmbedded
import NIOSSL
import POP3Protocol
import ServerSupport
import TestSupport
import Testing
@testable import POP3Server

/// A temporary SQLite store and directory with alice@example.test.
final class Fixture: Sendable {
    static let password = "alice correct horse"
    let path: URL
    let database: SQLiteDatabase
    let store: SQLiteMailStore
    let users: SQLiteDirectory
    let alice: Account

    init() async throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-pop3-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        database = try SQLiteDatabase(path: path.appendingPathComponent("test.sqlite").path)
        store = SQLiteMailStore(database)
        users = SQLiteDirectory(database)
        try await users.addDomain("example.test")
        alice = try await users.addUser("alice@example.test", passwordHash: try PasswordHash.make(Self.password, scheme: .sha512crypt),
                                        scram: SCRAMCredentials.derive(password: Self.password).storageString, quotaBytes: 0)
        try await store.prepareAccount(alice.id)
    }

    deinit { try? FileManager.default.removeItem(at: path) }


    func services(directory: (any UserDirectory)? = nil) -> POP3Services {
        var logger = Logger(label: "pop3-test")
        logger.logLevel = .critical
        let throttle = AuthThrottle(configuration: .init(baseDelay: .milliseconds(1), maximumDelay: .milliseconds(4)))
        return POP3Services(authenticator: Authenticator(directory: directory ?? users, throttle: throttle), store: store, logger: logger)
    }

    @discardableResult
    func deliver(_ message: String) async throws -> UInt32 {
        try await store.append(alice.id, to: "INBOX", NewMessage(bytes: Array(message.utf8), internalDate: InternalDate(seconds: 1_700_000_000))).uid
    }

    var inbox: MailboxInfo {
        get async throws { try await store.mailbox(alice.id, named: "INBOX") }
    }

    func messages() async throws -> [MessageSummary] { try await store.allMessages(in: try await inbox.id) }
}

/// One POP3 connection on an in-memory channel, read the way a client reads.
final class Wire: ChannelWire {
    let registry: ConnectionRegistry

    init(_ fixture: Fixture, plaintext: Bool = false, tls: NIOSSLContext? = nil, directory: (any UserDirectory)? = nil,
         limiter: ConnectionLimiter = ConnectionLimiter(limitPerClient: 10, limitTotal: 100),
         configure: (inout POP3ServerConfiguration) -> Void = { _ in }) async throws {
        var config = POP3ServerConfiguration(hostname: "pop.example.test")
        config.allowPlaintextWithoutTLS = plaintext
        configure(&config)
        let services = fixture.services(directory: directory)
        let configuration = config
        let registry = ConnectionRegistry(tls: tls)
        self.registry = registry
        let channel = try await NIOAsyncTestingChannel { channel in
            let session = POP3Session(configuration: configuration, clientIP: "192.0.2.1", tlsAvailable: tls != nil, tlsActive: false)
            try channel.pipeline.syncOperations.addHandler(ConnectionHandler(
                driver: POP3Driver(session: session, services: services), policy: configuration.connectionPolicy,
                limiter: limiter, registry: registry, clientIP: "192.0.2.1", logger: services.logger))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).get()
        super.init(channel: channel)
    }

    /// A multi-line response: the first line and the body exactly as sent (stuffed), without
    /// the terminating ".CRLF".
    func multiline() async throws -> (first: String, body: [UInt8]) {
        let bytes = try await read { p in
            guard let first = Self.crlf(in: p, from: 0) else { return nil }
            if p.count >= first + 5, Array(p[(first + 2)..<(first + 5)]) == [0x2E, 0x0D, 0x0A] { return first + 5 }
            var i = first
            while let next = Self.crlf(in: p, from: i) {
                if p.count >= next + 5, Array(p[(next + 2)..<(next + 5)]) == [0x2E, 0x0D, 0x0A] { return next + 5 }
                i = next + 2
            }
            return nil
        }
        let first = Self.crlf(in: bytes, from: 0)!
        return (String(decoding: bytes[0..<first], as: UTF8.self), Array(bytes[(first + 2)..<(bytes.count - 3)]))
    }

    /// A listing's lines.
    func lines() async throws -> (first: String, lines: [String]) {
        let (first, body) = try await multiline()
        let text = String(decoding: body, as: UTF8.self)
        return (first, text.isEmpty ? [] : text.components(separatedBy: "\r\n").dropLast().map { $0 })
    }

    func login() async throws -> String {
        _ = try await line()  // greeting
        _ = try await command("USER alice@example.test")
        return try await command("PASS \(Fixture.password)")
    }

}


func base64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

@Suite("POP3 driver on the connection core (in-memory channel, SQLite store)")
struct POP3DriverTests {
    static let one = "From: a@outside.test\r\nSubject: one\r\n\r\n.leading dot\r\nbody\r\n"
    static let two = "From: b@outside.test\r\nSubject: two\r\n\r\nsecond\r\n"
    static let three = "From: c@outside.test\r\nSubject: three\r\n\r\nthird\r\nline 2\r\nline 3\r\n"

    @Test func fullSessionWithUserPass() async throws {
        let fixture = try await Fixture()
        let uids = [try await fixture.deliver(Self.one), try await fixture.deliver(Self.two), try await fixture.deliver(Self.three)]
        let validity = try await fixture.inbox.uidValidity
        let wire = try await Wire(fixture, plaintext: true)
        #expect(try await wire.line() == "+OK pop.example.test Swallow POP3 ready.")
        try await wire.send("CAPA\r\n")
        let caps = try await wire.lines()
        #expect(caps.lines.contains("USER") && caps.lines.contains("UIDL") && caps.lines.contains("TOP"))
        #expect(try await wire.command("USER alice@example.test") == "+OK Send PASS")
        let sizes = [Self.one, Self.two, Self.three].map(\.utf8.count)
        #expect(try await wire.command("PASS \(Fixture.password)") == "+OK Logged in: 3 messages (\(sizes.reduce(0, +)) octets)")
        #expect(try await wire.command("STAT") == "+OK 3 \(sizes.reduce(0, +))")
        try await wire.send("LIST\r\n")
        #expect(try await wire.lines().lines == ["1 \(sizes[0])", "2 \(sizes[1])", "3 \(sizes[2])"])
        try await wire.send("UIDL\r\n")
        #expect(try await wire.lines().lines == uids.enumerated().map { "\($0.offset + 1) \(validity).\($0.element)" })
        try await wire.send("RETR 1\r\n")
        let retr = try await wire.multiline()
        #expect(retr.first == "+OK \(sizes[0]) octets")
        #expect(String(decoding: retr.body, as: UTF8.self) == Self.one.replacingOccurrences(of: "\r\n.leading", with: "\r\n..leading"))
        try await wire.send("TOP 3 1\r\n")
        let top = try await wire.multiline()
        #expect(top.first.hasPrefix("+OK"))
        #expect(String(decoding: top.body, as: UTF8.self) == "From: c@outside.test\r\nSubject: three\r\n\r\nthird\r\n")
        #expect(try await wire.command("DELE 2") == "+OK Message 2 deleted")
        #expect(try await wire.command("RETR 2") == "-ERR Message 2 is marked deleted")
        #expect(try await wire.command("NOOP") == "+OK")
        #expect(try await fixture.messages().count == 3, "DELE takes effect only at QUIT")
        #expect(try await wire.command("QUIT") == "+OK pop.example.test Swallow POP3 signing off (1 message deleted)")
        try await wire.closed()
        let left = try await fixture.messages()
        #expect(left.map(\.uid) == [uids[0], uids[2]])
        #expect(left[0].flags.system.contains(.seen), "RETR marks \\Seen")
        #expect(!left[1].flags.system.contains(.seen), "TOP does not")
    }

    @Test func droppedConnectionDeletesNothing() async throws {
        let fixture = try await Fixture()
        try await fixture.deliver(Self.one)
        try await fixture.deliver(Self.two)
        let wire = try await Wire(fixture, plaintext: true)
        #expect(try await wire.login().hasPrefix("+OK Logged in"))
        #expect(try await wire.command("DELE 1") == "+OK Message 1 deleted")
        try await wire.send("RETR 2\r\n")
        _ = try await wire.multiline()
        try await wire.channel.close()
        #expect(try await fixture.messages().count == 2)
        // The \Seen flag for what RETR sent is applied on disconnect (as Dovecot does).
        var seen = false
        for _ in 0..<200 where !seen {
            seen = try await fixture.messages()[1].flags.system.contains(.seen)
            if !seen { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(seen)
        #expect(try await !fixture.messages()[0].flags.system.contains(.deleted))
    }

    /// The UPDATE expunges exactly the DELE'd UIDs: a \Deleted flag some IMAP client set on
    /// another message stays as it is.
    @Test func quitExpungesOnlyWhatWasDeleted() async throws {
        let fixture = try await Fixture()
        let a = try await fixture.deliver(Self.one)
        let b = try await fixture.deliver(Self.two)
        let c = try await fixture.deliver(Self.three)
        let inbox = try await fixture.inbox
        _ = try await fixture.store.setFlags(in: inbox.id, uids: UIDSet([c]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
        let wire = try await Wire(fixture, plaintext: true)
        _ = try await wire.login()
        #expect(try await wire.command("DELE 1") == "+OK Message 1 deleted")
        #expect(try await wire.command("QUIT").hasPrefix("+OK"))
        try await wire.closed()
        let left = try await fixture.messages()
        #expect(left.map(\.uid) == [b, c])
        #expect(left[1].flags.system.contains(.deleted))
        #expect(!left.contains { $0.uid == a })
    }

    @Test func maildropIsASnapshotAndUIDLIsStable() async throws {
        let fixture = try await Fixture()
        try await fixture.deliver(Self.one)
        let first = try await Wire(fixture, plaintext: true)
        #expect(try await first.login() == "+OK Logged in: 1 message (\(Self.one.utf8.count) octets)")
        try await first.send("UIDL\r\n")
        let before = try await first.lines().lines
        try await fixture.deliver(Self.two)  // arrives during the session
        #expect(try await first.command("STAT") == "+OK 1 \(Self.one.utf8.count)")
        #expect(try await first.command("RETR 2").hasPrefix("-ERR No such message"))
        #expect(try await first.command("QUIT").hasPrefix("+OK"))
        let second = try await Wire(fixture, plaintext: true)
        #expect(try await second.login().hasPrefix("+OK Logged in: 2 messages"))
        try await second.send("UIDL\r\n")
        let after = try await second.lines().lines
        #expect(after.first == before.first && after.count == 2)
        // Two sessions at once on one maildrop are fine (as Dovecot allows).
        let third = try await Wire(fixture, plaintext: true)
        #expect(try await third.login().hasPrefix("+OK Logged in: 2 messages"))
    }

    /// Postfix's smtpd_tls_auth_only, on by default: no login of any kind before STLS.
    @Test func noLoginAtAllBeforeTLS() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, tls: try TestTLS.context())
        _ = try await wire.line()
        try await wire.send("CAPA\r\n")
        let caps = try await wire.lines().lines
        #expect(!caps.contains("USER") && !caps.contains { $0.hasPrefix("SASL") } && caps.contains("STLS"))
        #expect(try await wire.command("AUTH SCRAM-SHA-256").hasPrefix("-ERR [AUTH]"))
    }

    @Test func withoutTLSAuthOnlyPlaintextIsRefusedButSCRAMWorks() async throws {
        let fixture = try await Fixture()
        try await fixture.deliver(Self.one)
        let wire = try await Wire(fixture, tls: try TestTLS.context()) { $0.tlsAuthOnly = false }
        _ = try await wire.line()
        try await wire.send("CAPA\r\n")
        let caps = try await wire.lines().lines
        #expect(!caps.contains("USER") && caps.contains("SASL SCRAM-SHA-256") && caps.contains("STLS"))
        #expect(try await wire.command("USER alice@example.test")
                == "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS first")
        #expect(try await wire.command("AUTH PLAIN \(base64("\0alice@example.test\0\(Fixture.password)"))").hasPrefix("-ERR [AUTH]"))
        // SCRAM-SHA-256 (RFC 7677) through RFC 5034 challenges.
        var client = SCRAMClient(username: "alice@example.test", password: Fixture.password)
        #expect(try await wire.command("AUTH SCRAM-SHA-256") == "+ ")
        let serverFirst = try await wire.command(Data(client.clientFirstMessage()).base64EncodedString())
        #expect(serverFirst.hasPrefix("+ "))
        let final = try client.clientFinalMessage(serverFirst: Array(Data(base64Encoded: String(serverFirst.dropFirst(2)))!))
        let serverFinal = try await wire.command(Data(final).base64EncodedString())
        #expect(serverFinal.hasPrefix("+ "))
        try client.verifyServerFinal(Array(Data(base64Encoded: String(serverFinal.dropFirst(2)))!))
        #expect(try await wire.command("") == "+OK Logged in: 1 message (\(Self.one.utf8.count) octets)")
    }

    @Test func authPlainAndLogin() async throws {
        let fixture = try await Fixture()
        let plain = try await Wire(fixture, plaintext: true)
        _ = try await plain.line()
        #expect(try await plain.command("AUTH PLAIN \(base64("\0alice@example.test\0\(Fixture.password)"))").hasPrefix("+OK Logged in"))
        let login = try await Wire(fixture, plaintext: true)
        _ = try await login.line()
        try await login.send("AUTH\r\n")
        #expect(try await login.lines().lines == ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
        #expect(try await login.command("AUTH LOGIN") == "+ \(base64("Username:"))")
        #expect(try await login.command(base64("alice@example.test")) == "+ \(base64("Password:"))")
        #expect(try await login.command(base64(Fixture.password)).hasPrefix("+OK Logged in"))
        let cancelled = try await Wire(fixture, plaintext: true)
        _ = try await cancelled.line()
        #expect(try await cancelled.command("AUTH PLAIN") == "+ ")
        #expect(try await cancelled.command("*") == "-ERR Authentication cancelled")
        #expect(try await cancelled.command("STAT").hasPrefix("-ERR STAT is not valid in the AUTHORIZATION state"))
    }

    @Test func wrongPasswordIsThrottled() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, plaintext: true)
        _ = try await wire.line()
        _ = try await wire.command("USER alice@example.test")
        #expect(try await wire.command("PASS wrong") == "-ERR [AUTH] Authentication failed")
        _ = try await wire.command("USER nobody@example.test")
        #expect(try await wire.command("PASS wrong") == "-ERR [AUTH] Authentication failed", "unknown users look the same")
        // The third failure on one connection closes it (a guesser pays for a new connection).
        #expect(try await wire.command("AUTH PLAIN \(base64("\0alice@example.test\0nope"))")
                == "-ERR [AUTH] Authentication failed; too many failures, closing connection")
        try await wire.closed()
    }

    /// A directory failure is a temporary failure, not a wrong password, and not counted.
    @Test func directoryFailureIsTemporary() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, plaintext: true, directory: UnavailableDirectory())
        _ = try await wire.line()
        for _ in 0..<4 {
            _ = try await wire.command("USER alice@example.test")
            #expect(try await wire.command("PASS \(Fixture.password)").hasPrefix("-ERR [SYS/TEMP]"))
        }
    }

    /// RFC 2595 §4, DESIGN.md §4: bytes pipelined after STLS are never executed.
    @Test func stlsRefusesPipelinedCommands() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, plaintext: true, tls: try TestTLS.context())
        _ = try await wire.line()
        try await wire.send("STLS\r\nUSER alice@example.test\r\n")
        #expect(try await wire.line() == "-ERR Pipelined data after STLS; closing connection")
        try await wire.closed()
    }

    @Test func stlsHandsTheConnectionToTLS() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, tls: try TestTLS.context())
        _ = try await wire.line()
        #expect(try await wire.command("STLS") == "+OK Begin TLS negotiation")
        try await wire.channel.pipeline.containsHandler(type: NIOSSLServerHandler.self).get()
        // Plaintext now is a broken handshake, not a command.
        try await wire.send("USER alice@example.test\r\n")
        try await wire.closed()
    }

    @Test func badInputGetsPreciseErrorsThenTheConnectionCloses() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture) { $0.maxErrors = 5 }
        _ = try await wire.line()
        #expect(try await wire.command(String(repeating: "x", count: 300)) == "-ERR Line too long")
        #expect(try await wire.command("FROB") == "-ERR Unknown command")
        #expect(try await wire.command("RETR x") == "-ERR Invalid message number: expected a number")
        try await wire.send("NOOP\rSTAT\r\n")
        #expect(try await wire.line() == "-ERR Bare CR in command line; lines end in CRLF")
        #expect(try await wire.command("CAPA extra") == "-ERR Too many errors, closing connection")
        try await wire.closed()
    }

    @Test func largeMessageArrivesIntact() async throws {
        let fixture = try await Fixture()
        var body = "From: big@outside.test\r\nSubject: big\r\n\r\n"
        for i in 0..<40_000 { body += i % 7 == 0 ? ".dot line \(i)\r\n" : "line \(i) of a long message with some text in it\r\n" }
        try await fixture.deliver(body)
        let wire = try await Wire(fixture, plaintext: true)
        _ = try await wire.login()
        try await wire.send("RETR 1\r\nQUIT\r\n")
        let retr = try await wire.multiline()
        #expect(retr.first == "+OK \(body.utf8.count) octets")
        let text = String(decoding: retr.body, as: UTF8.self)
        #expect(text.replacingOccurrences(of: "\r\n..", with: "\r\n.") == body)
        #expect(try await wire.line().hasPrefix("+OK"))
    }

    /// RFC 1939 §3: the autologout timer is at least 10 minutes. The testing event loop's clock
    /// is advanced instead of waiting.
    @Test func idleTimeout() async throws {
        #expect(POP3ServerConfiguration(hostname: "x").idleTimeout == .seconds(600))
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, plaintext: true)
        _ = try await wire.login()
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(599))
        #expect(try await wire.command("NOOP") == "+OK")
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(599))
        #expect(try await wire.command("NOOP") == "+OK", "activity restarts the idle clock")
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(601))
        #expect(try await wire.line() == "-ERR Disconnected for inactivity")
        try await wire.closed()
    }

    /// The pre-login deadline is absolute: a client that keeps talking without logging in is
    /// still disconnected.
    @Test func loginDeadlineIsAbsolute() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, plaintext: true)
        _ = try await wire.line()
        for _ in 0..<5 {
            await wire.channel.testingEventLoop.advanceTime(by: .seconds(11))
            #expect(try await wire.command("CAPA").hasPrefix("+OK"))
            _ = try await wire.lines()
        }
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(6))
        #expect(try await wire.line() == "-ERR Login timeout")
        try await wire.closed()
    }

    /// Graceful shutdown: a connection between commands gets its farewell at once.
    @Test func shutdownClosesIdleConnections() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, plaintext: true)
        _ = try await wire.login()
        let registry = wire.registry
        let shutdown = Task { await registry.shutdown(grace: .seconds(5)) }
        #expect(try await wire.line() == "-ERR [SYS/TEMP] Server shutting down")
        try await wire.closed()
        await shutdown.value
        #expect(registry.count == 0)
    }

    @Test func connectionLimit() async throws {
        let fixture = try await Fixture()
        let limiter = ConnectionLimiter(limitPerClient: 1, limitTotal: 10)
        #expect(limiter.acquire("192.0.2.1") == .admitted)
        let wire = try await Wire(fixture, limiter: limiter)
        #expect(try await wire.line() == "-ERR [SYS/TEMP] Too many connections from your address")
        try await wire.closed()
    }
}
