import Logging
import NIOCore
import NIOSSL

/// What a protocol (SMTP, LMTP, IMAP, POP3, ManageSieve) plugs into the connection core. The
/// core owns the socket side: limits, buffering, back-pressure, deadlines, STARTTLS, shutdown.
/// The driver turns buffered bytes into commands for its session and the session's decisions
/// into bytes; it never touches the channel itself (DESIGN.md §5 item 13).
///
/// All calls happen on the connection's event loop.
public protocol ConnectionDriver: AnyObject {
    /// The connection was admitted: say hello.
    func start(_ connection: Connection<Self>)
    /// Handles at most one unit of buffered input (a command line, a DATA chunk, a literal) and
    /// consumes what it used. `.needMoreBytes` when nothing complete is buffered. The core calls
    /// again while input remains and the connection is not paused (by `run`, a drain, a close).
    func receive(_ input: inout ByteBuffer, _ connection: Connection<Self>) -> InputProgress
    /// Whether the protocol is between commands (nothing half-received): a shutdown closes the
    /// connection now when true, otherwise after the command in progress.
    var atCommandBoundary: Bool { get }
    /// The last words when the core closes the connection itself (`nil`: close silently).
    func farewell(_ reason: ConnectionCloseReason) -> [UInt8]?
    /// The connection is closed (from either side); release what the session holds.
    func stopped()
}

public enum InputProgress: Sendable {
    case handled
    case needMoreBytes
}

/// The driver's handle on its connection, valid on the event loop during a driver call or a
/// `run` continuation.
public struct Connection<Driver: ConnectionDriver> {
    let handler: ConnectionHandler<Driver>
    let context: ChannelHandlerContext

    /// The client's IP address as text ("unknown" if the socket has none).
    public var clientIP: String { handler.clientIP }
    public var tlsActive: Bool { handler.tlsActive }
    /// "TLSv1.3" once the handshake is done, for the trace; nil without TLS.
    public var tlsVersion: String? {
        guard tlsActive, let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self),
              let version = handler.tlsVersion else { return nil }
        switch version {
        case .tlsv1: return "TLSv1"
        case .tlsv11: return "TLSv1.1"
        case .tlsv12: return "TLSv1.2"
        case .tlsv13: return "TLSv1.3"
        }
    }
    public var allocator: ByteBufferAllocator { context.channel.allocator }

    /// The connection's logger (client, service and, after login, user metadata).
    public var logger: Logger {
        get { handler.logger }
        nonmutating set { handler.logger = newValue }
    }

    /// Queues bytes for the client; they go out at the next flush (the core flushes whenever
    /// it runs out of buffered input or starts work).
    public func write(_ bytes: [UInt8]) { handler.write(context, bytes) }
    public func write(_ buffer: ByteBuffer) { handler.write(context, buffer) }
    public func flush() { handler.flush(context) }

    /// After a large write: stop handling input while the channel is over its high-water mark.
    public func drain() { handler.drain(context) }

    /// Writes `final` (if any) and closes. Nothing more is read.
    public func close(_ final: [UInt8]?) { handler.close(context, final) }

    /// Runs `work` off the event loop, holding further input meanwhile, then `then` on it;
    /// `then` is skipped when the connection closed in between. `cancellable` work (a login
    /// step) is cancelled when the client leaves; other work (a commit) always completes.
    public func run<T: Sendable>(cancellable: Bool = false, _ work: @escaping @Sendable () async -> T,
                                 then: @escaping (Driver, Connection<Driver>, T) -> Void) {
        handler.run(context, cancellable: cancellable, work, then: then)
    }

    /// The STARTTLS guard (RFC 3207 §4, RFC 2595 §4, RFC 9051 §6.2.1, DESIGN.md §4): when no
    /// byte is buffered after the command, writes `ready` and starts the TLS handshake; otherwise
    /// the client pipelined plaintext that it would expect to be read as protected (the
    /// CVE-2011-0411 family): writes `refusal` and closes. Returns whether TLS started.
    public func startTLS(ready: [UInt8], refusal: [UInt8], input: ByteBuffer) -> Bool {
        handler.startTLS(context, ready: ready, refusal: refusal, pending: input.readableBytes)
    }

    /// COMPRESS=DEFLATE (RFC 4978 §3): writes `ready` uncompressed, then compresses both ways.
    /// Bytes the client sent after the command were sent uncompressed but would be read as
    /// compressed: like STARTTLS, that is refused (`refusal`, then close). Returns whether
    /// compression started.
    public func startCompression(ready: [UInt8], refusal: [UInt8], input: ByteBuffer) -> Bool {
        handler.startCompression(context, ready: ready, refusal: refusal, pending: input.readableBytes)
    }

    public var compressionActive: Bool { handler.compressionActive }

    /// The client logged in: the login deadline no longer applies.
    public func loggedIn() { handler.loggedIn() }

    /// A writer for output produced off the event loop (IMAP's session, notifications).
    public func makeWriter() -> ConnectionWriter { ConnectionWriter(handler: handler, context: context) }
}
