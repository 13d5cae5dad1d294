#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import Synchronization
import NIOSSL

/// The one connection loop every listener uses (DESIGN.md §5 item 11): accept under the
/// connection limits, read and buffer, hand input to the protocol's driver one unit at a time,
/// write and flush, apply back-pressure both ways, enforce the idle, login and output-stall
/// deadlines, guard STARTTLS, and close gracefully when the server shuts down.
public final class ConnectionHandler<Driver: ConnectionDriver>: ChannelInboundHandler, AnyConnectionWriting {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    let driver: Driver
    let policy: ConnectionPolicy
    let limiter: ConnectionLimiter
    let registry: ConnectionRegistry
    let clientIP: String
    var logger: Logger
    private(set) var tlsActive: Bool

    private var input = ByteBuffer()
    /// Work started by `run` is in flight: input waits.
    private var busy = false
    /// A large response is draining: input waits until the channel is writable again.
    private var draining = false
    private var readPaused = false
    private var unflushed = false
    private var closed = false {
        didSet { if closed { openFlag.close() } }
    }
    /// `!closed`, readable from any thread without a hop to the event loop (`ConnectionWriter.isOpen`).
    let openFlag = OpenFlag()
    private var admitted = false
    private var shutdownRequested = false
    /// The client half-closed: it has sent everything (`nc -N`, a script piping a session).
    private var inputEnded = false
    private var lastInput = NIODeadline.uptimeNanoseconds(0)
    private var idleTimer: Scheduled<Void>?
    private var loginTimer: Scheduled<Void>?
    private var stallTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    /// Work started by `run` that may be dropped if the client leaves (not a message commit).
    private var abandonable: Task<Void, Never>?

    /// - Parameters:
    ///   - clientIP: the peer's address as text, for limits and logs.
    public init(driver: Driver, policy: ConnectionPolicy, limiter: ConnectionLimiter, registry: ConnectionRegistry,
                clientIP: String, logger: Logger) {
        self.driver = driver
        self.policy = policy
        self.limiter = limiter
        self.registry = registry
        self.clientIP = clientIP
        self.logger = logger
        self.tlsActive = policy.implicitTLS
    }

    private var paused: Bool { busy || draining || closed }

    private func connection(_ context: ChannelHandlerContext) -> Connection<Driver> {
        Connection(handler: self, context: context)
    }

    // MARK: Channel events

    public func channelActive(context: ChannelHandlerContext) {
        switch limiter.acquire(clientIP) {
        case .admitted:
            admitted = true
        case .tooManyFromClient:
            logger.notice("too many connections from client")
            return close(context, driver.farewell(.tooManyFromClient))
        case .tooManyInTotal:
            logger.warning("connection limit reached", metadata: ["limit": "\(limiter.limitTotal)"])
            return close(context, driver.farewell(.tooManyInTotal))
        }
        registry.add(context.channel)
        logger.debug("connect")
        lastInput = context.eventLoop.now
        scheduleIdleCheck(context, after: policy.idleTimeout)
        if let login = policy.loginTimeout {
            loginTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .init(login)) { [self] in
                guard !self.closed else { return }
                self.logger.info("login timeout")
                self.close(context, self.driver.farewell(.loginTimeout))
            }
        }
        driver.start(connection(context))
        flush(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closed = true
        // Work for a client that has gone (a login's penalty wait and hash) is not worth doing.
        abandonable?.cancel()
        for timer in [idleTimer, loginTimer, stallTimer, closeTimer] { timer?.cancel() }
        if admitted {
            limiter.release(clientIP)
            registry.remove(context.channel)
            admitted = false
            driver.stopped()
        }
        logger.debug("disconnect")
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard !closed else { return }
        lastInput = context.eventLoop.now
        input.writeBuffer(&incoming)
        if paused, input.readableBytes > policy.maxBufferedInput, !readPaused {
            readPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        process(context)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallTimer?.cancel()
            stallTimer = nil
            if draining {
                draining = false
                resume(context)
            }
        } else {
            startStallTimer(context)
        }
        context.fireChannelWritabilityChanged()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ConnectionRegistry.ShutdownEvent {
            shutdownRequested = true
            closeIfShuttingDown(context)
            return
        }
        if case ChannelEvent.inputClosed = event {
            // Answer every command the client sent before its FIN (pipelined ones included,
            // RFC 2920), then close; an unfinished command at the end is dropped.
            inputEnded = true
            closeIfInputEnded(context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Clients that drop the connection (or skip TLS close_notify) are routine, not news.
        let routine = (error as? NIOSSLError) == .uncleanShutdown || (error as? IOError)?.errnoCode == ECONNRESET
        if let tls = error as? NIOSSLError, case .handshakeFailed = tls {
            logger.info("TLS handshake failed", metadata: ["reason": "\(Self.shortTLSReason(tls))"])
        } else {
            logger.log(level: routine ? .debug : .info, "connection error", metadata: ["error": "\(error)"])
        }
        closed = true
        context.close(promise: nil)
    }

    /// BoringSSL's reasons without its source paths and numbers: `WRONG_VERSION_NUMBER`,
    /// `NO_SHARED_CIPHER`, `TLSV1_ALERT_UNKNOWN_CA` (one short line for the administrator).
    static func shortTLSReason(_ error: NIOSSLError) -> String {
        let text = "\(error)"
        var reasons: [Substring] = []
        var rest = Substring(text)
        // BoringSSL formats each error as "error:CODE:LIBRARY:FUNCTION:REASON at FILE:LINE".
        while let range = rest.range(of: " at ") {
            let before = rest[..<range.lowerBound]
            if let colon = before.lastIndex(of: ":") {
                let reason = before[before.index(after: colon)...]
                if !reason.isEmpty && reason.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) { reasons.append(reason) }
            }
            rest = rest[range.upperBound...]
        }
        return reasons.isEmpty ? "handshake failed" : reasons.joined(separator: ", ")
    }

    // MARK: Input

    private func process(_ context: ChannelHandlerContext) {
        while !paused && input.readableBytes > 0 {
            if case .needMoreBytes = driver.receive(&input, connection(context)) { break }
        }
        if closed {
            input.clear()
            return
        }
        if input.readerIndex > 64 * 1024 { input.discardReadBytes() }
        flush(context)
        closeIfShuttingDown(context)
        closeIfInputEnded(context)
    }

    private func closeIfInputEnded(_ context: ChannelHandlerContext) {
        guard inputEnded, !paused else { return }
        close(context, nil)
    }

    /// Work finished or output drained: read again and carry on with buffered input.
    private func resume(_ context: ChannelHandlerContext) {
        guard !closed else { return }
        if readPaused && !paused {
            readPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
        process(context)
    }

    // MARK: What the driver asks for

    func run<T: Sendable>(_ context: ChannelHandlerContext, cancellable: Bool, _ work: @escaping @Sendable () async -> T,
                          then: @escaping (Driver, Connection<Driver>, T) -> Void) {
        busy = true
        flush(context)
        let promise = context.eventLoop.makePromise(of: T.self)
        let task = Task { promise.succeed(await work()) }
        if cancellable { abandonable = task }
        promise.futureResult.assumeIsolated().whenSuccess { [self] value in
            self.busy = false
            self.abandonable = nil
            guard !self.closed else { return }
            then(self.driver, self.connection(context), value)
            self.resume(context)
        }
    }

    func write(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        write(context, context.channel.allocator.buffer(bytes: bytes))
    }

    func write(_ context: ChannelHandlerContext, _ buffer: ByteBuffer) {
        guard !closed else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
        unflushed = true
    }

    func flush(_ context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    func drain(_ context: ChannelHandlerContext) {
        flush(context)
        if !context.channel.isWritable {
            draining = true
            startStallTimer(context)
        }
    }

    func close(_ context: ChannelHandlerContext, _ final: [UInt8]?) {
        guard !closed else { return }
        if let final { write(context, final) }
        closed = true
        unflushed = false
        // `input` is left alone: a driver closes from inside `receive(&input)`; `process`
        // drops what remains.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in channel.close(promise: nil) }
        // A client that does not read would keep the farewell, and so the connection, pending
        // for ever: it gets the stall timeout, then the channel is closed regardless.
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .init(policy.outputStallTimeout)) {
            channel.close(promise: nil)
        }
    }

    func startTLS(_ context: ChannelHandlerContext, ready: [UInt8], refusal: [UInt8], pending: Int) -> Bool {
        guard let tls = registry.tls else { return false }
        guard addLayer(context, "TLS", ready: ready, refusal: refusal, pending: pending, {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        }) else { return false }
        tlsActive = true
        return true
    }

    private(set) var compressionActive = false

    func startCompression(_ context: ChannelHandlerContext, ready: [UInt8], refusal: [UInt8], pending: Int) -> Bool {
        guard addLayer(context, "compression", ready: ready, refusal: refusal, pending: pending, {
            // Between TLS and the protocol: compressed data is what TLS carries.
            let handler = try DeflateHandler()
            if let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) {
                try context.pipeline.syncOperations.addHandler(handler, position: .after(tls))
            } else {
                try context.pipeline.syncOperations.addHandler(handler, position: .first)
            }
        }) else { return false }
        compressionActive = true
        return true
    }

    /// STARTTLS and COMPRESS: bytes the client pipelined after the command were sent in the old
    /// framing and must not be read in the new one (the STARTTLS command-injection family):
    /// refuse and close. Otherwise `ready` goes out in the old framing, then `install` adds the
    /// new layer under the protocol.
    private func addLayer(_ context: ChannelHandlerContext, _ what: String, ready: [UInt8], refusal: [UInt8], pending: Int,
                          _ install: () throws -> Void) -> Bool {
        guard pending == 0 else {
            logger.warning("data pipelined before \(what) started: closing (command injection attempt?)")
            close(context, refusal)
            return false
        }
        write(context, ready)
        flush(context)
        do {
            try install()
        } catch {
            logger.error("cannot start \(what)", metadata: ["error": "\(error)"])
            close(context, nil)
            return false
        }
        return true
    }

    func loggedIn() {
        loginTimer?.cancel()
        loginTimer = nil
    }

    // MARK: ConnectionWriter

    func writeAndFlushFromWriter(_ context: ChannelHandlerContext, _ bytes: [UInt8]) -> EventLoopFuture<Void> {
        guard !closed else { return context.eventLoop.makeFailedFuture(ConnectionWriter.Closed()) }
        unflushed = false
        let future = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)))
        if !context.channel.isWritable { startStallTimer(context) }
        return future
    }

    var isOpenForWriter: Bool { !closed }

    // MARK: Deadlines and shutdown

    /// One timer per connection, re-armed for what is left of the idle time (as NIO's
    /// IdleStateHandler does), so ten thousand quiet connections cost no wake-ups.
    private func scheduleIdleCheck(_ context: ChannelHandlerContext, after delay: Duration) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .init(delay)) { [self] in
            guard !self.closed else { return }
            let quiet = context.eventLoop.now - self.lastInput
            let limit = TimeAmount(self.policy.idleTimeout)
            if quiet >= limit && !self.busy {
                self.logger.info("idle timeout")
                self.close(context, self.driver.farewell(.idleTimeout))
            } else {
                self.scheduleIdleCheck(context, after: Duration(max(limit - quiet, .seconds(1))))
            }
        }
    }

    private func startStallTimer(_ context: ChannelHandlerContext) {
        guard stallTimer == nil, !closed else { return }
        stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .init(policy.outputStallTimeout)) { [self] in
            self.stallTimer = nil
            guard !self.closed, !context.channel.isWritable else { return }
            self.logger.info("client stopped reading: closing")
            // The farewell could not be delivered anyway; close at once.
            self.closed = true
            context.close(promise: nil)
        }
    }

    private func closeIfShuttingDown(_ context: ChannelHandlerContext) {
        guard shutdownRequested, !closed, !busy, driver.atCommandBoundary else { return }
        logger.debug("closing for shutdown")
        close(context, driver.farewell(.shuttingDown))
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension Duration {
    init(_ amount: TimeAmount) { self = .nanoseconds(amount.nanoseconds) }
}

/// Whether a connection is still open, for work running off its event loop: a long SEARCH
/// checks it between batches without a round trip to the loop (each one a thread wake-up).
final class OpenFlag: Sendable {
    private let open = Atomic<Bool>(true)
    var isOpen: Bool { open.load(ordering: .relaxed) }
    func close() { open.store(false, ordering: .relaxed) }
}
