import Foundation
import Logging
import MailAuth
import MailStore
import MailStoreSQLite
import NIOCore
import NIOEmbedded
import ServerSupport
import TestSupport
import Testing
@testable import IMAPServer

/// IMAP on the connection core, byte for byte on an in-memory channel: the pre-login limits,
/// the STARTTLS guard, deadlines on the testing event loop's clock, failed logins, shutdown.
@Suite("IMAP driver on the connection core", .serialized)
struct IMAPDriverTests {
    final class Wire: ChannelWire {
        let registry: ConnectionRegistry
        let server: TestServer

        init(tls: Bool = false, plaintext: Bool = true) async throws {
            server = try await TestServer.start(allowPlaintext: plaintext)
            var quiet = Logger(label: "imap-driver-test")
            quiet.logLevel = ProcessInfo.processInfo.environment["IMAP_TEST_LOG"] != nil ? .trace : .critical
            let logger = quiet
            var config = IMAPServerConfiguration(hostname: "imap.example.test")
            config.allowPlaintextWithoutTLS = plaintext
            let services = IMAPServices(
                authenticator: Authenticator(directory: server.users, throttle: AuthThrottle(configuration: .init(baseDelay: .milliseconds(1)))),
                store: server.store, recent: RecentTracker(), tlsAvailable: tls, logger: logger)
            let registry = ConnectionRegistry(tls: tls ? try TestTLS.context() : nil)
            self.registry = registry
            let policy = ConnectionPolicy(idleTimeout: config.limits.idleTimeout, loginTimeout: config.limits.loginTimeout)
            let configuration = config
            let channel = try await NIOAsyncTestingChannel { channel in
                try channel.pipeline.syncOperations.addHandler(ConnectionHandler(
                    driver: IMAPDriver(configuration: configuration, services: services, clientIP: "192.0.2.1"),
                    policy: policy, limiter: ConnectionLimiter(limitPerClient: 10, limitTotal: 100),
                    registry: registry, clientIP: "192.0.2.1", logger: logger))
            }
            try await channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).get()
            super.init(channel: channel)
        }

        deinit { server.remove() }

        /// Lines up to and including the tagged one.
        func tagged(_ tag: String) async throws -> [String] {
            var lines: [String] = []
            while true {
                let line = try await self.line()
                lines.append(line)
                if line.hasPrefix(tag + " ") { return lines }
            }
        }

        func login() async throws {
            _ = try await line()
            try await send("L LOGIN alice@example.test \(TestServer.alicePassword)\r\n")
            #expect(try await tagged("L").last?.hasPrefix("L OK") == true)
            // The tagged OK is written before the driver learns of the login; a round trip
            // makes sure it has before a test moves the clock.
            try await send("N NOOP\r\n")
            _ = try await tagged("N")
        }
    }

    /// The audit: before login, `APPEND INBOX {67108864}` got `+ Ready` and 64 MiB was read.
    @Test func preLoginLiteralsAreSmall() async throws {
        let wire = try await Wire()
        let greeting = try await wire.line()
        #expect(greeting.contains("LITERAL-") && !greeting.contains("LITERAL+"))
        #expect(try await wire.command("a APPEND INBOX {67108864}").hasPrefix("a NO"))
        #expect(try await wire.command("b LOGIN {100000}") == "b NO [TOOBIG] Literal too large (limit 8192 octets)")
        try await wire.send("c LOGIN {9000+}\r\n")
        #expect(try await wire.line().hasPrefix("* BYE"))
        try await wire.closed()
    }

    @Test func afterLoginLiteralPlusAndLargeLiterals() async throws {
        let wire = try await Wire()
        try await wire.login()
        try await wire.send("c CAPABILITY\r\n")
        #expect(try await wire.tagged("c").first?.contains("LITERAL+") == true)
        let message = "Subject: big\r\n\r\n" + String(repeating: "y", count: 100_000) + "\r\n"
        try await wire.send("d APPEND INBOX {\(message.utf8.count)+}\r\n\(message)\r\n")
        #expect(try await wire.tagged("d").last?.hasPrefix("d OK [APPENDUID") == true)
    }

    @Test func startTLSRefusesPipelinedCommands() async throws {
        let wire = try await Wire(tls: true, plaintext: false)
        _ = try await wire.line()
        try await wire.send("a STARTTLS\r\nb LOGIN alice@example.test x\r\n")
        #expect(try await wire.line() == "* BYE Pipelined data after STARTTLS.")
        try await wire.closed()
    }

    @Test func threeFailedLoginsCloseTheConnection() async throws {
        let wire = try await Wire()
        _ = try await wire.line()
        for i in 1...3 {
            try await wire.send("\(i) LOGIN alice@example.test wrong\r\n")
            let lines = try await wire.tagged("\(i)")
            #expect(lines.last == "\(i) NO [AUTHENTICATIONFAILED] Authentication failed.")
        }
        #expect(try await wire.line() == "* BYE Too many failed authentications.")
        try await wire.closed()
    }

    @Test func loginDeadlineIsAbsolute() async throws {
        let wire = try await Wire()
        _ = try await wire.line()
        for i in 0..<5 {
            await wire.channel.testingEventLoop.advanceTime(by: .seconds(11))
            try await wire.send("n\(i) NOOP\r\n")
            #expect(try await wire.tagged("n\(i)").last?.hasPrefix("n\(i) OK") == true)
        }
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(6))
        #expect(try await wire.line() == "* BYE Login timeout.")
        try await wire.closed()
    }

    /// RFC 9051 §5.4: the autologout timer is at least 30 minutes, IDLE included; logged-in
    /// sessions are not bound by the login deadline.
    @Test func idleTimeoutAfterLogin() async throws {
        let wire = try await Wire()
        try await wire.login()
        await wire.channel.testingEventLoop.advanceTime(by: .seconds(29 * 60))
        try await wire.send("i NOOP\r\n")
        #expect(try await wire.tagged("i").last?.hasPrefix("i OK") == true)
        try await wire.advanceClockUntilOutput(by: .seconds(30 * 60 + 1))
        #expect(try await wire.line() == "* BYE Disconnected for inactivity.")
        try await wire.closed()
    }

    /// Shutdown reaches a client in IDLE at once.
    @Test func shutdownEndsIdle() async throws {
        let wire = try await Wire()
        try await wire.login()
        try await wire.send("s SELECT INBOX\r\n")
        _ = try await wire.tagged("s")
        #expect(try await wire.command("i IDLE").hasPrefix("+ "))
        let registry = wire.registry
        let shutdown = Task { await registry.shutdown(grace: .seconds(5)) }
        #expect(try await wire.line() == "* BYE Server shutting down.")
        try await wire.closed()
        await shutdown.value
    }
}
