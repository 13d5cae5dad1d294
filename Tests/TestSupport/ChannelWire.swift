import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOSSL

/// One connection of a line protocol on an in-memory channel, read the way a client reads:
/// for handler-level tests of the connection core and its protocol drivers.
open class ChannelWire {
    public let channel: NIOAsyncTestingChannel
    public private(set) var pending: [UInt8] = []

    public init(channel: NIOAsyncTestingChannel) {
        self.channel = channel
    }

    public func send(_ text: String) async throws {
        do {
            try await channel.writeInbound(ByteBuffer(string: text))
        } catch {
            throw watchdogFired.withLockedValue { $0 } ? NoResponse(pending: pending) : error
        }
    }

    /// How long one read waits for the server before the test gives up. Generous: the whole
    /// suite runs in parallel with the Python interop suite on two cores, and a loaded
    /// machine can starve the cooperative pool for seconds.
    public static let readTimeout: Duration = .seconds(60)

    /// The watchdog closed the channel: the server did not answer within `readTimeout`.
    private let watchdogFired = NIOLockedValueBox(false)

    public struct NoResponse: Error, CustomStringConvertible {
        public let pending: [UInt8]
        public var description: String {
            "no response from the server within \(ChannelWire.readTimeout) (the test closed the channel); unread: \(String(decoding: pending, as: UTF8.self).debugDescription)"
        }
    }

    /// Reads until `complete` finds the end of a response in the pending bytes (its length).
    public func read(_ complete: ([UInt8]) -> Int?) async throws -> [UInt8] {
        let channel = self.channel, fired = watchdogFired
        let watchdog = Task {
            try await Task.sleep(for: ChannelWire.readTimeout)
            fired.withLockedValue { $0 = true }
            try? await channel.close()
        }
        defer { watchdog.cancel() }
        do {
            while true {
                if let n = complete(pending) {
                    let response = Array(pending[0..<n])
                    pending.removeFirst(n)
                    return response
                }
                // What was written before the channel closed is still to be read (the wait below
                // throws once the channel is closed).
                if let buffer = try await channel.readOutbound(as: ByteBuffer.self) {
                    pending += buffer.readableBytesView
                    continue
                }
                let buffer = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
                pending += buffer.readableBytesView
            }
        } catch {
            throw watchdogFired.withLockedValue { $0 } ? NoResponse(pending: pending) : error
        }
    }

    /// Moves the event loop's clock by `amount`, then a second at a time until the server
    /// writes something. A deadline does not fire while a command is still being finished
    /// off the event loop (its completion reaches the loop asynchronously, after the tagged
    /// reply the test has already read), so one jump can land just before the session is idle.
    public func advanceClockUntilOutput(by amount: TimeAmount, atMostSeconds: Int = 100) async throws {
        await channel.testingEventLoop.advanceTime(by: amount)
        for _ in 0..<atMostSeconds {
            if let buffer = try await channel.readOutbound(as: ByteBuffer.self) {
                pending += buffer.readableBytesView
                return
            }
            try await Task.sleep(for: .milliseconds(20))
            await channel.testingEventLoop.advanceTime(by: .seconds(1))
        }
    }

    /// One line, without CRLF.
    public func line() async throws -> String {
        let bytes = try await read { p in Self.crlf(in: p, from: 0).map { $0 + 2 } }
        return String(decoding: bytes.dropLast(2), as: UTF8.self)
    }

    public func command(_ line: String) async throws -> String {
        try await send(line + "\r\n")
        return try await self.line()
    }

    public struct NotClosed: Error, CustomStringConvertible {
        public var description: String { "the server did not close the connection within \(ChannelWire.readTimeout)" }
    }

    /// Waits for the server to close the connection; throws when it does not (the watchdog
    /// closes it so the test ends, and the test fails).
    public func closed() async throws {
        let channel = self.channel
        let watchdog = Task {
            try await Task.sleep(for: ChannelWire.readTimeout)
            try? await channel.close()
            return true
        }
        try await channel.closeFuture.get()
        watchdog.cancel()
        if (try? await watchdog.value) == true { throw NotClosed() }
    }

    public static func crlf(in p: [UInt8], from start: Int) -> Int? {
        var i = start
        while i + 1 < p.count {
            if p[i] == 0x0D && p[i + 1] == 0x0A { return i }
            i += 1
        }
        return nil
    }
}

/// A self-signed certificate for the STLS tests (CN=pop3.test, P-256, valid until 2126).
public enum TestTLS {
    public static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBfzCCASWgAwIBAgIUf8i4UluETEcg3xIc/Hg73LDhuawwCgYIKoZIzj0EAwIw
        FDESMBAGA1UEAwwJcG9wMy50ZXN0MCAXDTI2MTEyOTEyMzU1NloYDzIxMjYxMTA1
        MTIzNTU2WjAUMRIwEAYDVQQDDAlwb3AzLnRlc3QwWTATBgcqhkjOPQIBBggqhkjO
        PQMBBwNCAARoyySpvTI04Jb4hs5U0xvQY7KKbFYBWnJAoi/VIMZn1gBiq83SFzti
        JR5cmIu1Sq7zmtMCNB9LMI+mM8bo0Lxpo1MwUTAdBgNVHQ4EFgQUfdc3XBk8yHzI
        ktVVBPL5lez3EWEwHwYDVR0jBBgwFoAUfdc3XBk8yHzIktVVBPL5lez3EWEwDwYD
        VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA5HbBDnOahzQiRZK/ioyB
        gW7o9vGIDhvwQVdqcGuCj1ACIA0A4meGjY4b8F3J+otID9cMRvmxPaxRlGe+tVzz
        B7+z
        -----END CERTIFICATE-----
        """
    public static let privateKey = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6TVRYZZphA+EKRca
        Pe5c0fBU963vqrrTP0XwYW4V3x2hRANCAARoyySpvTI04Jb4hs5U0xvQY7KKbFYB
        WnJAoi/VIMZn1gBiq83SFztiJR5cmIu1Sq7zmtMCNB9LMI+mM8bo0Lxp
        -----END PRIVATE KEY-----
        """

    public static func context() throws -> NIOSSLContext {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificate.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(privateKey.utf8), format: .pem)))
        return try NIOSSLContext(configuration: configuration)
    }
}
