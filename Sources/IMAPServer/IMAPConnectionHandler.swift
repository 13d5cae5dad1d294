import Foundation
import IMAPProtocol
import Logging
import NIOCore
import NIOSSL
import ServerSupport

/// The NIO side of one IMAP connection: frames input with `IMAPCommandParser`, answers
/// literal continuations and grammar errors, performs STARTTLS, and hands each command to the
/// `IMAPSession`, holding further input until it has finished (commands run strictly in order).
final class IMAPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case commands
        case authenticationResponse
        case idle
        case closed
    }

    private let configuration: IMAPServerConfiguration
    private let services: IMAPServices
    private let limiter: ConnectionLimiter
    private let clientIP: String
    private var session: IMAPSession?
    private var parser: IMAPCommandParser
    private var mode = Mode.commands
    private var buffer = ByteBuffer()
    private var busy = false
    private var readPaused = false
    private var tlsActive: Bool
    private var authenticated = false
    private var badCommands = 0
    private var acquiredSlot = false
    private var lastInput = NIODeadline.now()
    private var logger: Logger

    init(configuration: IMAPServerConfiguration, services: IMAPServices, limiter: ConnectionLimiter, clientIP: String) {
        self.configuration = configuration
        self.services = services
        self.limiter = limiter
        self.clientIP = clientIP
        self.tlsActive = configuration.implicitTLS
        self.parser = IMAPCommandParser(configuration: configuration.parserConfiguration)
        var logger = services.logger
        logger[metadataKey: "client"] = "\(clientIP)"
        logger[metadataKey: "service"] = "\(configuration.implicitTLS ? "imaps" : "imap")"
        self.logger = logger
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        guard limiter.acquire(clientIP) else {
            logger.notice("too many connections from client")
            close(context, .untagged(.condition(.bye, text: "Too many connections from your address.")))
            return
        }
        acquiredSlot = true
        session = IMAPSession(configuration: configuration, services: services, channel: context.channel,
                              clientIP: clientIP, tlsActive: tlsActive)
        logger.debug("connect")
        let caps = Capabilities.list(tlsActive: tlsActive, tlsAvailable: services.tls != nil, authenticated: false,
                                     allowPlaintext: configuration.allowPlaintextWithoutTLS, appendLimit: configuration.appendLimit)
        write(context, .untagged(.condition(.ok, code: .capability(caps), text: "\(configuration.hostname) Swallow IMAP ready.")))
        context.flush()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if acquiredSlot { limiter.release(clientIP) }
        acquiredSlot = false
        mode = .closed
        if let session { Task { await session.shutdown() } }
        logger.debug("disconnect")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if case .closed = mode { return }
        lastInput = .now()
        buffer.writeBuffer(&incoming)
        if busy, buffer.readableBytes > configuration.limits.maxBufferedInput, !readPaused {
            // Back-pressure: stop reading until the running command finishes.
            readPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        process(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            let quiet = NIODeadline.now() - lastInput
            let limit = authenticated ? configuration.limits.idleTimeout : configuration.limits.loginTimeout
            if !busy, quiet >= TimeAmount.seconds(limit.components.seconds) {
                logger.info("inactivity timeout")
                close(context, .untagged(.condition(.bye, text: "Disconnected for inactivity.")))
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let routine = (error as? NIOSSLError) == .uncleanShutdown || (error as? IOError)?.errnoCode == ECONNRESET
        logger.log(level: routine ? .debug : .info, "connection error", metadata: ["error": "\(error)"])
        mode = .closed
        context.close(promise: nil)
    }

    // MARK: Input

    private func process(_ context: ChannelHandlerContext) {
        loop: while !busy && buffer.readableBytes > 0 {
            switch mode {
            case .closed:
                buffer.clear()
                return
            case .commands:
                let (result, consumed) = buffer.withUnsafeReadableBytes { parser.parse($0) }
                buffer.moveReaderIndex(forwardBy: consumed)
                switch result {
                case .needMoreBytes:
                    break loop
                case .needContinuation:
                    write(context, .continuation("Ready for literal data"))
                    context.flush()
                case .error(let tag, let message):
                    badCommand(context, Self.status(tag, .bad, nil, message))
                case .tooBig(let tag, let message):
                    write(context, Self.status(tag, .no, .tooBig, message))
                case .fatal(_, let message):
                    logger.notice("closing: \(message)")
                    close(context, .untagged(.condition(.bye, text: message)))
                    return
                case .command(let command):
                    logger.trace("command", metadata: ["command": "\(command.command.name)"])
                    if case .startTLS = command.command {
                        startTLS(context, tag: command.tag)
                    } else {
                        guard let session else { return }
                        dispatch(context) { await session.execute(command) }
                    }
                }
            case .authenticationResponse:
                let (result, consumed) = buffer.withUnsafeReadableBytes { parser.parseAuthenticateResponse($0) }
                buffer.moveReaderIndex(forwardBy: consumed)
                guard let session else { return }
                switch result {
                case .needMoreBytes: break loop
                case .response(let bytes): dispatch(context) { await session.authenticationResponse(bytes) }
                case .cancelled: dispatch(context) { await session.authenticationCancelled() }
                case .error(let message): dispatch(context) { await session.authenticationResponseError(message) }
                }
            case .idle:
                let (result, consumed) = buffer.withUnsafeReadableBytes { parser.parseIdleDone($0) }
                buffer.moveReaderIndex(forwardBy: consumed)
                guard let session else { return }
                switch result {
                case .needMoreBytes: break loop
                case .done: dispatch(context) { await session.endIdle(error: nil) }
                case .error(let message): dispatch(context) { await session.endIdle(error: message) }
                }
            }
        }
        if buffer.readerIndex > 64 * 1024 { buffer.discardReadBytes() }
        context.flush()
    }

    /// A tagged status, or an untagged one when no tag could be read.
    private static func status(_ tag: String?, _ status: TaggedStatus, _ code: IMAPResponseCode?, _ text: String) -> IMAPResponse {
        if let tag { return .tagged(tag: tag, status: status, code: code, text: text) }
        return .untagged(.condition(status == .no ? .no : .bad, code: code, text: text))
    }

    private func badCommand(_ context: ChannelHandlerContext, _ line: IMAPResponse) {
        badCommands += 1
        if badCommands >= configuration.limits.maxBadCommands {
            write(context, line)
            close(context, .untagged(.condition(.bye, text: "Too many invalid commands.")))
            return
        }
        write(context, line)
    }

    /// RFC 9051 §6.2.1: the TLS negotiation starts right after our OK. Anything the client sent
    /// after STARTTLS before seeing it would be taken as if it came over TLS: refuse the
    /// connection instead (DESIGN.md §4).
    private func startTLS(_ context: ChannelHandlerContext, tag: String) {
        if tlsActive { return write(context, .bad(tag, nil, "TLS is already active.")) }
        if authenticated { return write(context, .bad(tag, nil, "Already authenticated.")) }
        guard let tls = services.tls else { return write(context, .no(tag, .cannot, "TLS is not available.")) }
        guard buffer.readableBytes == 0, !parser.hasPartialCommand else {
            logger.warning("data pipelined after STARTTLS: closing (command injection attempt?)")
            buffer.clear()
            close(context, .untagged(.condition(.bye, text: "Pipelined data after STARTTLS.")))
            return
        }
        write(context, .ok(tag, nil, "Begin TLS negotiation now."))
        context.flush()
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        } catch {
            logger.error("cannot start TLS", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        tlsActive = true
        parser = IMAPCommandParser(configuration: configuration.parserConfiguration)
        guard let session else { return }
        dispatch(context) {
            await session.tlsStarted()
            return IMAPSession.Outcome(next: .commands, authenticated: false)
        }
    }

    // MARK: Plumbing

    /// Runs session work off the event loop, then continues reading in the mode it asks for.
    private func dispatch(_ context: ChannelHandlerContext, _ work: @escaping @Sendable () async -> IMAPSession.Outcome) {
        busy = true
        context.flush()
        let promise = context.eventLoop.makePromise(of: IMAPSession.Outcome.self)
        promise.completeWithTask(work)
        promise.futureResult.assumeIsolated().whenSuccess { [self] outcome in
            self.busy = false
            if case .closed = self.mode { return }
            self.authenticated = outcome.authenticated
            if outcome.bad {
                self.badCommands += 1
                if self.badCommands >= self.configuration.limits.maxBadCommands {
                    self.close(context, .untagged(.condition(.bye, text: "Too many invalid commands.")))
                    return
                }
            }
            switch outcome.next {
            case .commands: self.mode = .commands
            case .authenticationResponse: self.mode = .authenticationResponse
            case .idle: self.mode = .idle
            case .close:
                self.close(context, nil)
                return
            }
            if self.readPaused {
                self.readPaused = false
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            }
            self.process(context)
        }
    }

    private func write(_ context: ChannelHandlerContext, _ response: IMAPResponse) {
        let bytes = IMAPEncoder(utf8: false).encode(response)
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    private func close(_ context: ChannelHandlerContext, _ line: IMAPResponse?) {
        mode = .closed
        if let line { write(context, line) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in channel.close(promise: nil) }
    }
}
