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
/// else DATA with dot-stuffing. We never emit a bare CR or LF (DESIGN.md §4). Every step has a
/// deadline, so a peer that stops answering or reading cannot hold an attempt.
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
        /// What a verified certificate must chain to: the system's roots unless configured.
        public var trustRoots: NIOSSLTrustRoots = .default
        /// AUTH PLAIN credentials for a smarthost; only ever sent over TLS.
        public var credentials: (user: String, password: String)?
        /// Establishing the TCP connection (Postfix's smtp_connect_timeout).
        public var connectTimeout: Duration = .seconds(30)
        /// Each reply, and each write of the message making progress (RFC 5321 §4.5.3.2: at
        /// least 5 minutes for replies, 3 minutes per data block).
        public var commandTimeout: Duration = .seconds(300)
        /// The reply to the end of the message (RFC 5321 §4.5.3.2.6: 10 minutes).
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
        /// Whether the session ran over TLS.
        public var usedTLS: Bool
        public var transcript: [String]
    }

    public let configuration: Configuration
    let group: any EventLoopGroup
    let tlsContext: @Sendable (Bool) throws -> NIOSSLContext

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        let roots = configuration.trustRoots
        self.tlsContext = { verify in
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = roots
            if !verify { tls.certificateVerification = .none }
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        }
    }

    /// Sends `envelope` to `host:port` on a connection of its own, then says QUIT. A
    /// connection-level failure is a temporary outcome for every recipient; the caller moves on
    /// to the next MX host.
    public func send(_ envelope: Envelope, host: String, port: Int, serverName: String? = nil, logger: Logger) async -> Result {
        switch await open(host: host, port: port, serverName: serverName, logger: logger) {
        case .failed(let outcome, _):
            return Result(outcomes: envelope.recipients.map { ($0, outcome) }, usedTLS: false, transcript: [])
        case .ready(let connection):
            let sent = await connection.send(envelope)
            connection.close()
            return Result(outcomes: sent.outcomes, usedTLS: connection.usedTLS, transcript: sent.transcript)
        }
    }

    /// The answer to `open`.
    public enum Opened: Sendable {
        case ready(OutboundConnection)
        /// The outcome for every recipient; `reachedPeer` is false when no peer answered (the
        /// destination's health, for the scheduler).
        case failed(Outcome, reachedPeer: Bool)
    }

    /// Connects and opens a session (greeting, EHLO, STARTTLS, AUTH), ready for transactions.
    public func open(host: String, port: Int, serverName: String? = nil, logger: Logger) async -> Opened {
        let name = serverName ?? host
        let where_ = "\(host):\(port)"
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(PlaintextCounter())
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch ChannelError.connectTimeout {
            return .failed(.temporary("\(where_): \(DeadlineExceeded(step: "connecting", limit: configuration.connectTimeout))"),
                           reachedPeer: false)
        } catch {
            return .failed(.temporary("\(where_): \(error)"), reachedPeer: false)
        }
        return await OutboundConnection.start(channel: channel, configuration: configuration, serverName: name,
                                              hostDescription: where_, tlsContext: tlsContext, logger: logger)
    }
}

/// A step of the transaction did not finish in time.
struct DeadlineExceeded: Error, CustomStringConvertible {
    let step: String
    let limit: Duration
    var description: String { "timeout after \(limit.components.seconds) s \(step)" }
}

/// The replies and writes of one client connection, each under a deadline. When a deadline
/// passes, the channel is closed, which ends the read or write in progress; the error then
/// says which step timed out rather than that the connection closed.
struct Connection {
    let channel: any Channel
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var parser = SMTPReplyParser()
    var pending: [UInt8] = []
    /// Bytes taken from the inbound stream so far (see `startTLS`).
    private(set) var received = 0

    struct Closed: Error, CustomStringConvertible {
        var description: String { "connection closed by the server" }
    }

    /// RFC 3207 §4.2 (and the "STARTTLS response injection" attacks): bytes the server sent
    /// after its 220 but before the handshake are not protected, and must not be read as if
    /// they were.
    struct DataBeforeTLS: Error, CustomStringConvertible {
        let bytes: Int
        var description: String { "STARTTLS: the server sent \(bytes) bytes after its 220 reply, before TLS; not trusting them" }
    }

    /// Largest single write of the message: each must make progress within the command timeout.
    static let dataChunkSize = 64 * 1024

    mutating func send(_ bytes: [UInt8], within limit: Duration, _ step: String) async throws {
        try await withDeadline(limit, step) { connection in
            try await connection.outbound.write(ByteBuffer(bytes: bytes))
        }
    }

    /// The message, chunk by chunk: a peer that stops reading stalls a chunk, and the chunk's
    /// deadline ends the attempt (the writer waits while the channel is not writable).
    mutating func sendData(_ bytes: [UInt8], perChunk limit: Duration) async throws {
        var start = 0
        repeat {
            let end = min(start + Self.dataChunkSize, bytes.count)
            try await send(Array(bytes[start..<end]), within: limit, "writing the message")
            start = end
        } while start < bytes.count
    }

    mutating func reply(within limit: Duration, _ step: String) async throws -> SMTPReply {
        try await withDeadline(limit, step) { connection in try await connection.nextReply() }
    }

    private mutating func nextReply() async throws -> SMTPReply {
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
            received += chunk.readableBytes
            pending.append(contentsOf: chunk.readableBytesView)
        }
    }

    /// Puts TLS under the connection after the server's 220 to STARTTLS. Fails when anything
    /// else arrived in plaintext: left over after the 220, or already queued in the stream
    /// (counted in the pipeline, in the same event loop turn that adds the TLS handler).
    mutating func startTLS(context: NIOSSLContext, serverHostname: String?) async throws {
        guard pending.isEmpty else { throw DataBeforeTLS(bytes: pending.count) }
        let channel = self.channel
        let plaintext = try await channel.eventLoop.submit {
            let handler = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            return try channel.pipeline.syncOperations.handler(type: PlaintextCounter.self).bytes
        }.get()
        guard plaintext == received else { throw DataBeforeTLS(bytes: plaintext - received) }
    }

    private mutating func withDeadline<T>(_ limit: Duration, _ step: String,
                                          _ body: (inout Connection) async throws -> T) async throws -> T {
        let channel = self.channel
        // Set and read on the event loop only (nil: not expired).
        let expired = NIOLoopBoundBox.makeEmptyBox(valueType: Bool.self, eventLoop: channel.eventLoop)
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(limit)) {
            expired.value = true
            channel.close(promise: nil)
        }
        do {
            let value = try await body(&self)
            timer.cancel()
            return value
        } catch {
            timer.cancel()
            let timedOut = try? await channel.eventLoop.submit { expired.value }.get()
            if timedOut == true { throw DeadlineExceeded(step: step, limit: limit) }
            throw error
        }
    }
}

/// Counts the bytes that reach the stream; read when the TLS handler goes in front of it, it
/// says how many arrived in plaintext.
final class PlaintextCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private(set) var bytes = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes += unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }
}
