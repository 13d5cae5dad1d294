import Delivery
import Foundation
import Logging
import MailAuth
import MailQueue
import MailStore
import MailStoreSQLite
import NIOCore
import NIOEmbedded
import ServerSupport
import SMTPProtocol
import LineFraming
import TestSupport
import Testing
@testable import SMTPServer

/// SMTP on the connection core, byte for byte on an in-memory channel: framing and pipelining,
/// the STARTTLS guard, limits and deadlines (on the testing event loop's clock), shutdown.
@Suite("SMTP driver on the connection core", .serialized)
struct SMTPDriverTests {
    static let password = "alice correct horse"

    /// A store with alice@example.test, and an outbound queue, in a temporary directory.
    final class Fixture: Sendable {
        let path: URL
        let store: SQLiteMailStore
        let users: SQLiteDirectory
        let queue: OutboundQueue
        let alice: Account

        init() async throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-smtp-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
            let database = try SQLiteDatabase(path: path.appendingPathComponent("test.sqlite").path)
            store = SQLiteMailStore(database)
            users = SQLiteDirectory(database)
            queue = try OutboundQueue(path: path.appendingPathComponent("queue.sqlite").path)
            try await users.addDomain("example.test")
            alice = try await users.addUser("alice@example.test", passwordHash: try PasswordHash.make(SMTPDriverTests.password, scheme: .sha512crypt),
                                            scram: nil, quotaBytes: 0)
            try await store.prepareAccount(alice.id)
        }

        deinit { try? FileManager.default.removeItem(at: path) }

        func inbox() async throws -> [[UInt8]] {
            let box = try await store.mailbox(alice.id, named: "INBOX")
            return try await store.allMessages(in: box.id).asyncMap { try await store.messageBytes(in: box.id, uid: $0.uid) }
        }
    }

    final class Wire: ChannelWire {
        let registry: ConnectionRegistry

        init(_ fixture: Fixture, role: SMTPRole = .mx, tls: Bool = false, plaintext: Bool = false,
             directory: (any UserDirectory)? = nil,
             limiter: ConnectionLimiter = ConnectionLimiter(limitPerClient: 10, limitTotal: 100)) async throws {
            var quiet = Logger(label: "smtp-test")
            quiet.logLevel = .critical
            let logger = quiet
            var config = SMTPServerConfiguration(role: role, hostname: "mx.example.test")
            config.allowPlaintextWithoutTLS = plaintext
            config.isTrustedClient = { _ in true }
            let services = SMTPServices(
                authenticator: Authenticator(directory: directory ?? fixture.users,
                                             throttle: AuthThrottle(configuration: .init(baseDelay: .milliseconds(1)))),
                store: fixture.store, localDelivery: LocalDeliveryAgent(committer: GroupCommitter(store: fixture.store)),
                queue: fixture.queue, logger: logger)
            let registry = ConnectionRegistry(tls: tls ? try TestTLS.context() : nil)
            self.registry = registry
            let policy = ConnectionPolicy(idleTimeout: config.idleTimeout,
                                          loginTimeout: role.requiresAuthentication ? config.loginTimeout : nil)
            let configuration = config
            let channel = try await NIOAsyncTestingChannel { channel in
                let session = SMTPSession(configuration: configuration, clientIP: "192.0.2.1", tlsAvailable: tls, tlsActive: false)
                try channel.pipeline.syncOperations.addHandler(ConnectionHandler(
                    driver: SMTPDriver(session: session, services: services), policy: policy, limiter: limiter,
                    registry: registry, clientIP: "192.0.2.1", logger: logger))
            }
            try await channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).get()
            super.init(channel: channel)
        }

        /// A whole reply (all its lines), as `CODE text` of its last line.
        func reply() async throws -> String {
            while true {
                let line = try await self.line()
                if line.count < 4 || line.dropFirst(3).first != "-" { return line }
            }
        }

        /// Greeting, EHLO, MAIL, RCPT to alice, DATA: the client is sending the message now.
        func startData() async throws {
            _ = try await reply()
            _ = try await smtp("EHLO client.test")
            #expect(try await smtp("MAIL FROM:<a@outside.test>") == "250 2.1.0 Ok")
            #expect(try await smtp("RCPT TO:<alice@example.test>") == "250 2.1.5 Ok")
            #expect(try await smtp("DATA").hasPrefix("354 "))
        }

        /// A command and its whole reply.
        func smtp(_ text: String) async throws -> String {
            try await send(text + "\r\n")
            return try await reply()
        }
    }

    @Test func pipelinedTransactionInOneWrite() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture)
        #expect(try await wire.reply().hasPrefix("220 "))
        // RFC 2920: everything at once; replies in order, the message stored once.
        try await wire.send("EHLO client.test\r\nMAIL FROM:<a@outside.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        #expect(try await wire.reply().hasPrefix("250 "))
        #expect(try await wire.reply() == "250 2.1.0 Ok")
        #expect(try await wire.reply() == "250 2.1.5 Ok")
        #expect(try await wire.reply().hasPrefix("354 "))
        try await wire.send("Subject: pipelined\r\n\r\n..dot\r\n.\r\nQUIT\r\n")
        #expect(try await wire.reply().hasPrefix("250 2.0.0 Ok: queued as "))
        #expect(try await wire.reply() == "221 2.0.0 Bye")
        try await wire.closed()
        let stored = try await fixture.inbox()
        #expect(stored.count == 1)
        #expect(String(decoding: stored[0], as: UTF8.self).hasSuffix("Subject: pipelined\r\n\r\n.dot\r\n"))
    }

    /// A client that sends a whole session and half-closes (`printf … | nc -N`, `sendmail -bs`
    /// fed by a script) gets every reply, the message is stored, and then the server closes.
    @Test func halfClosedClientGetsEveryReply() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture)
        #expect(try await wire.reply().hasPrefix("220 "))
        try await wire.send("EHLO client.test\r\nMAIL FROM:<a@outside.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                            + "Subject: half-closed\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        wire.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try await wire.reply().hasPrefix("250 "))
        #expect(try await wire.reply() == "250 2.1.0 Ok")
        #expect(try await wire.reply() == "250 2.1.5 Ok")
        #expect(try await wire.reply().hasPrefix("354 "))
        #expect(try await wire.reply().hasPrefix("250 2.0.0 Ok: queued as "))
        #expect(try await wire.reply() == "221 2.0.0 Bye")
        try await wire.closed()
        #expect(try await fixture.inbox().count == 1)
    }

    /// An unfinished command when the input ends is dropped, and the connection closed.
    @Test func halfClosedClientWithAPartialCommandIsClosed() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture)
        #expect(try await wire.reply().hasPrefix("220 "))
        try await wire.send("NOOP\r\nNOO")
        wire.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try await wire.reply().hasPrefix("250 "))
        try await wire.closed()
    }

    /// RFC 3207 §4.2, DESIGN.md §4: bytes pipelined after STARTTLS are never executed.
    @Test func startTLSRefusesPipelinedCommands() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, tls: true)
        _ = try await wire.reply()
        _ = try await wire.smtp("EHLO client.test")
        try await wire.send("STARTTLS\r\nMAIL FROM:<a@outside.test>\r\n")
        #expect(try await wire.reply() == "554 5.5.1 Error: pipelined data after STARTTLS")
        try await wire.closed()
    }

    @Test func bareLineFeedInDataIsRefused() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture)
        try await wire.startData()
        try await wire.send("Subject: smuggle\r\n\r\nbody\n.\nMAIL FROM:<x@y>\r\n.\r\n")
        #expect(try await wire.reply().hasPrefix("554 5.6.0"))
        #expect(try await fixture.inbox().isEmpty)
    }

    @Test func perClientLimit() async throws {
        let fixture = try await Fixture()
        let limiter = ConnectionLimiter(limitPerClient: 1, limitTotal: 10)
        #expect(limiter.acquire("192.0.2.1") == .admitted)
        let wire = try await Wire(fixture, limiter: limiter)
        #expect(try await wire.reply() == "421 4.7.0 mx.example.test Error: too many connections from your address")
        try await wire.closed()
    }

    /// RFC 5321 §4.5.3.2.7: at least 5 minutes between commands.
    @Test func idleTimeout() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture)
        _ = try await wire.reply()
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(299))
        #expect(try await wire.smtp("NOOP") == "250 2.0.0 Ok")
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(301))
        #expect(try await wire.reply() == "421 4.4.2 mx.example.test Error: timeout exceeded")
        try await wire.closed()
    }

    /// Submission: AUTH within the login deadline, however busy the client keeps the session.
    @Test func submissionLoginDeadline() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture, role: .submission)
        _ = try await wire.reply()
        for _ in 0..<5 {
            await wire.channel.testingEventLoop.advanceTime(by: .seconds(11))
            #expect(try await wire.smtp("NOOP") == "250 2.0.0 Ok")
        }
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(6))
        #expect(try await wire.reply().hasPrefix("421 4.4.2"))
        try await wire.closed()
    }

    /// Graceful shutdown: a message being received gets its 250, then the farewell.
    @Test func shutdownLetsDataFinish() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture)
        try await wire.startData()
        try await wire.send("Subject: shutdown\r\n\r\nfirst\r\n")
        wire.registry.announceShutdown()
        // A barrier: the loop has handled the announcement before the rest of the message comes.
        try await wire.channel.testingEventLoop.executeInContext {}
        try await wire.send("second\r\n.\r\n")
        #expect(try await wire.reply().hasPrefix("250 2.0.0 Ok: queued as "))
        #expect(try await wire.reply() == "421 4.3.2 mx.example.test Service not available, closing transmission channel")
        try await wire.closed()
        #expect(try await fixture.inbox().count == 1)
    }

    /// ...but only within the grace period: a client that never finishes is closed after it,
    /// and what it half sent is not stored.
    @Test func shutdownClosesWhatDoesNotFinishWithinTheGrace() async throws {
        let fixture = try await Fixture()
        let wire = try await Wire(fixture)
        try await wire.startData()
        try await wire.send("Subject: never finished\r\n\r\nfirst\r\n")
        let clock = ContinuousClock()
        let start = clock.now
        await wire.registry.shutdown(grace: .milliseconds(500))
        #expect(clock.now - start >= .milliseconds(500))
        #expect(wire.registry.count == 0, "still open after the grace period")
        try await wire.closed()
        #expect(try await fixture.inbox().isEmpty)
    }

    /// A database failure during AUTH is 454 4.7.0, not 535, and costs the client nothing.
    @Test func directoryFailureIsTemporary() async throws {
        let fixture = try await Fixture()
        let plain = "AUTH PLAIN \(Base64.encodedString(Array("\0alice@example.test\0\(Self.password)".utf8)))"
        let down = try await Wire(fixture, role: .submission, plaintext: true, directory: UnavailableDirectory())
        _ = try await down.reply()
        _ = try await down.smtp("EHLO client.test")
        for _ in 0..<4 {  // more than the three failures that close a connection
            #expect(try await down.smtp(plain) == "454 4.7.0 Temporary authentication failure")
        }
        let up = try await Wire(fixture, role: .submission, plaintext: true)
        _ = try await up.reply()
        _ = try await up.smtp("EHLO client.test")
        #expect(try await up.smtp(plain) == "235 2.7.0 Authentication successful")
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
