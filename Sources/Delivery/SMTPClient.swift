import Logging
import MailCore
import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol

/// The outbound SMTP client (RFC 5321): one transaction to one host, one outcome per recipient.
///
/// EHLO with HELO fallback, opportunistic or required STARTTLS (RFC 3207), AUTH PLAIN to a
/// smarthost (RFC 4954), PIPELINING (RFC 2920), SIZE (RFC 1870), SMTPUTF8 (RFC 6531: refused
/// cleanly when the message needs it and the peer lacks it), CHUNKING (RFC 3030) when offered,
/// else DATA with dot-stuffing. We never emit a bare CR or LF (DESIGN.md §4).
public struct SMTPClient: Sendable {
    public enum TLSPolicy: Sendable, Equatable {
        /// Plain SMTP (tests, LMTP on loopback).
        case none
        /// STARTTLS when offered; without certificate verification when `verify` is false
        /// (RFC 7435 opportunistic security: better than plaintext, no worse).
        case opportunistic(verify: Bool)
        /// Fail (temporarily) unless STARTTLS succeeds.
        case required(verify: Bool)
    }

    public struct Configuration: Sendable {
        public var heloName: String
        public var tls: TLSPolicy = .opportunistic(verify: false)
        /// AUTH PLAIN credentials for a smarthost; only ever sent over TLS.
        public var credentials: (user: String, password: String)?
        /// RFC 5321 §4.5.3.2 timeouts, shortened for connecting.
        public var connectTimeout: Duration = .seconds(30)
        public var commandTimeout: Duration = .seconds(300)
        public var dataTimeout: Duration = .seconds(600)

        public init(heloName: String) { self.heloName = heloName }
    }

    /// What to send.
    public struct Envelope: Sendable {
        public var sender: String
        public var recipients: [String]
        public var message: [UInt8]
        public var needsSMTPUTF8: Bool
        public var eightBit: Bool
        /// BODY=BINARYMIME (RFC 3030 §3): sent only with BDAT to a peer that offers BINARYMIME.
        public var binary: Bool
        public var envelopeID: String?
        public var returnFull: Bool
        /// RFC 3461 NOTIFY and ORCPT per recipient, passed on to a DSN-capable peer (§5.2.1).
        public var notify: [String: String]
        public var originalRecipients: [String: String]

        public init(sender: String, recipients: [String], message: [UInt8], needsSMTPUTF8: Bool = false, eightBit: Bool = false,
                    binary: Bool = false, envelopeID: String? = nil, returnFull: Bool = false,
                    notify: [String: String] = [:], originalRecipients: [String: String] = [:]) {
            self.sender = sender; self.recipients = recipients; self.message = message; self.needsSMTPUTF8 = needsSMTPUTF8
            self.eightBit = eightBit; self.binary = binary; self.envelopeID = envelopeID; self.returnFull = returnFull
            self.notify = notify; self.originalRecipients = originalRecipients
        }
    }

    /// One recipient's fate: 2xx delivered, 4xx retry later, 5xx bounce (RFC 5321 §4.2.1).
    public enum Outcome: Sendable, Equatable {
        case delivered(SMTPReply)
        case temporary(String)
        case permanent(String)

        public var isTemporary: Bool { if case .temporary = self { true } else { false } }
    }

    public struct Result: Sendable {
        public var outcomes: [(recipient: String, outcome: Outcome)]
        public var usedTLS: Bool
        public var transcript: [String]
    }

    public let configuration: Configuration
    let group: any EventLoopGroup
    let tlsContext: @Sendable (Bool) throws -> NIOSSLContext

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        self.tlsContext = { verify in
            var tls = TLSConfiguration.makeClientConfiguration()
            if !verify { tls.certificateVerification = .none }
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        }
    }

    /// Sends `envelope` to `host:port`. A connection-level failure is a temporary outcome for
    /// every recipient; the caller moves on to the next MX host.
    public func send(_ envelope: Envelope, host: String, port: Int, serverName: String? = nil, logger: Logger) async -> Result {
        var session = ClientSession(envelope: envelope, configuration: configuration, serverName: serverName ?? host, logger: logger)
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            try await channel.executeThenClose { inbound, outbound in
                var connection = Connection(channel: channel.channel, inbound: inbound.makeAsyncIterator(), outbound: outbound)
                try await session.run(&connection, tlsContext: tlsContext)
            }
        } catch {
            session.failRemaining("\(host):\(port): \(error)")
        }
        return Result(outcomes: session.outcomes, usedTLS: session.usedTLS, transcript: session.transcript)
    }
}

/// The replies and writes of one client connection, with a watchdog that closes the channel
/// when the server does not answer in time (which ends the read with an error).
struct Connection {
    let channel: any Channel
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var parser = SMTPReplyParser()
    var pending: [UInt8] = []

    struct Timeout: Error, CustomStringConvertible {
        var description: String { "timed out waiting for the server" }
    }

    struct Closed: Error, CustomStringConvertible {
        var description: String { "connection closed by the server" }
    }

    mutating func send(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    mutating func reply(timeout: Duration) async throws -> SMTPReply {
        let channel = self.channel
        let watchdog = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)) {
            channel.close(promise: nil)
        }
        defer { watchdog.cancel() }
        while true {
            if !pending.isEmpty {
                let (result, consumed) = pending.withUnsafeBytes { parser.parse($0) }
                pending.removeFirst(consumed)
                switch result {
                case .reply(let reply): return reply
                case .error(let e): throw e
                case .needMoreBytes: break
                }
            }
            guard let chunk = try await inbound.next() else { throw Closed() }
            pending.append(contentsOf: chunk.readableBytesView)
        }
    }
}
