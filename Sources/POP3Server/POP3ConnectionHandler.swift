import Foundation
import Logging
import MailAuth
import MailStore
import NIOCore
import NIOSSL
import POP3Protocol
import ServerSupport

/// The NIO side of one POP3 connection: frames bytes into commands and SASL responses,
/// performs what `POP3Session` decides, and runs password checks and store work off the event
/// loop.
///
/// Pipelining (RFC 2449 §6.6): commands are handled strictly in order; responses are written as
/// they are decided and flushed whenever no further complete command is buffered or work must
/// wait. A message being sent pauses command processing (and, past `maxBufferedInput`, reading)
/// until the channel is writable again, so a client that pipelines many RETRs and reads slowly
/// holds at most one message in memory.
final class POP3ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case commands
        case authResponse
        case closed
    }

    private var session: POP3Session
    private let services: POP3Services
    private let limiter: ConnectionLimiter
    private var parser: POP3CommandParser
    private var mode = Mode.commands
    private var buffer = ByteBuffer()
    /// Work (a password check, a store read) is running; input waits in `buffer`.
    private var busy = false
    /// A large response is draining; input waits in `buffer`.
    private var waitingForWritability = false
    private var readPaused = false
    private var unflushed = false
    private var acquiredSlot = false
    /// The account a SASL exchange is about, between its lookup and its outcome.
    private var pendingAccount: Account?
    private var logger: Logger

    init(session: POP3Session, services: POP3Services, limiter: ConnectionLimiter) {
        self.session = session
        self.services = services
        self.limiter = limiter
        self.parser = POP3CommandParser(configuration: session.configuration.parserConfiguration)
        self.logger = services.logger
        logger[metadataKey: "client"] = "\(session.clientIP)"
        logger[metadataKey: "service"] = "\(session.configuration.serviceName)"
    }

    private var paused: Bool { busy || waitingForWritability }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        guard limiter.acquire(session.clientIP) else {
            logger.notice("too many connections from client")
            close(context, .error(.sysTemp, "Too many connections from your address"))
            return
        }
        acquiredSlot = true
        logger.debug("connect")
        write(context, session.greeting)
        flush(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if acquiredSlot { limiter.release(session.clientIP) }
        acquiredSlot = false
        mode = .closed
        if session.state == .transaction {
            // RFC 1939 §6: no UPDATE without QUIT, so DELE marks are dropped.
            logger.info("disconnected without QUIT", metadata: ["deletions_dropped": "\(session.deleted.filter { $0 }.count)"])
        }
        if let owed = session.seenOnDisconnect {
            // Dovecot applies \Seen for what RETR sent even without QUIT.
            let store = services.store, logger = self.logger
            Task {
                do {
                    _ = try await store.setFlags(in: owed.mailbox, uids: owed.uids, .add, MessageFlags(system: .seen), unchangedSince: nil)
                } catch {
                    logger.error("cannot set \\Seen after disconnect", metadata: ["error": "\(error)"])
                }
            }
        }
        logger.debug("disconnect")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if case .closed = mode { return }
        buffer.writeBuffer(&incoming)
        if paused, buffer.readableBytes > session.configuration.maxBufferedInput, !readPaused {
            // Back-pressure: stop reading until the running work or the output drains.
            readPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        process(context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if waitingForWritability, context.channel.isWritable {
            waitingForWritability = false
            resume(context)
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, !paused {
            logger.info("idle timeout")
            close(context, .error("Disconnected for inactivity"))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Clients that drop the connection (or skip TLS close_notify) are routine, not news.
        let routine = (error as? NIOSSLError) == .uncleanShutdown || (error as? IOError)?.errnoCode == ECONNRESET
        logger.log(level: routine ? .debug : .info, "connection error", metadata: ["error": "\(error)"])
        mode = .closed
        context.close(promise: nil)
    }

    // MARK: Input

    private func process(_ context: ChannelHandlerContext) {
        loop: while !paused && buffer.readableBytes > 0 {
            switch mode {
            case .closed:
                buffer.clear()
                return
            case .commands:
                let (result, consumed) = buffer.withUnsafeReadableBytes { parser.parse($0) }
                buffer.moveReaderIndex(forwardBy: consumed)
                switch result {
                case .needMoreBytes: break loop
                case .error(let response): perform(session.error(response), context)
                case .command(let command):
                    logger.trace("command", metadata: ["keyword": "\(command.keyword)"])
                    perform(session.handle(command), context)
                }
            case .authResponse:
                let (result, consumed) = buffer.withUnsafeReadableBytes { parser.parseAuthResponse($0) }
                buffer.moveReaderIndex(forwardBy: consumed)
                switch result {
                case .needMoreBytes: break loop
                case .cancel:
                    // RFC 5034 §4: "*" cancels; the server answers -ERR.
                    mode = .commands
                    if var sasl = session.sasl { runSASL(sasl.abort(), context) } else { write(context, .error("Authentication cancelled")) }
                case .error(let response):
                    mode = .commands
                    session.authenticationEnded()
                    perform(session.error(response), context)
                case .response(let text):
                    mode = .commands
                    guard let bytes = Base64.decode(text) else {
                        session.authenticationEnded()
                        perform(session.error(POP3CommandParser.Errors.invalidBase64), context)
                        continue
                    }
                    guard var sasl = session.sasl else { write(context, .error("No authentication in progress")); continue }
                    let action = sasl.receive(bytes)
                    session.sasl = sasl
                    runSASL(action, context)
                }
            }
        }
        if buffer.readerIndex > 64 * 1024 { buffer.discardReadBytes() }
        flush(context)
    }

    /// Work finished or the output drained: read again and carry on with buffered commands.
    private func resume(_ context: ChannelHandlerContext) {
        if readPaused && !paused {
            readPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
        process(context)
    }

    // MARK: Actions

    private func perform(_ action: POP3Session.Action, _ context: ChannelHandlerContext) {
        switch action {
        case .reply(let response):
            write(context, response)
        case .multiline(let first, let lines):
            writeBytes(context, first.encodedMultiline(lines: lines))
            if lines.count > 1000 { drain(context) }
        case .close(let response):
            close(context, response)
        case .startTLS:
            startTLS(context)
        case .checkPassword(let login, let password):
            let directory = services.directory
            run(context, work: { () -> POP3Session.PasswordCheck in
                let account: Account?
                do {
                    account = try await directory.account(login: login)
                } catch {
                    return .unavailable
                }
                // Hash even for unknown users so timing does not reveal which logins exist.
                let ok = PasswordHash.verify(password, account: account)
                guard ok, let account else { return .rejected }
                return .accepted(account)
            }, then: { handler, context, check in
                switch check {
                case .rejected: handler.logger.notice("authentication failed", metadata: ["mechanism": "USER", "login": "\(login)"])
                case .unavailable: handler.logger.error("directory lookup failed during USER/PASS", metadata: ["login": "\(login)"])
                case .accepted: break
                }
                handler.perform(handler.session.passwordChecked(check), context)
            })
        case .sasl(let action):
            runSASL(action, context)
        case .authenticationFailed:
            // A growing delay before the failure reply (DESIGN.md §4 auth failures per IP).
            let throttle = services.throttle, client = session.clientIP
            run(context, work: { () -> Void in
                let delay = await throttle.recordFailure(client: client)
                try? await Task.sleep(for: delay)
            }, then: { handler, context, _ in
                handler.perform(handler.session.authenticationFailureReply(), context)
            })
        case .openMaildrop(let account):
            logger[metadataKey: "user"] = "\(account.address)"
            logger.info("authenticated")
            let throttle = services.throttle, client = session.clientIP
            Task { await throttle.recordSuccess(client: client) }
            let store = services.store
            run(context, work: { () -> Result<POP3Session.Maildrop, StoreError> in
                await capture { () async throws(StoreError) in try await Self.openMaildrop(store: store, account: account) }
            }, then: { handler, context, result in
                switch result {
                case .success(let drop):
                    handler.logger.info("maildrop opened", metadata: ["messages": "\(drop.messages.count)"])
                case .failure(let error):
                    handler.logger.error("cannot open maildrop", metadata: ["error": "\(error)"])
                }
                handler.perform(handler.session.maildropOpened(result), context)
            })
        case .loadMessage(let mailbox, let number, let uid, let topLines):
            let store = services.store
            run(context, work: { () -> Result<[UInt8], StoreError> in
                await capture { () async throws(StoreError) in try await store.messageBytes(in: mailbox, uid: uid) }
            }, then: { handler, context, result in
                if case .failure(let error) = result, error != .expunged {
                    handler.logger.error("cannot read message", metadata: ["uid": "\(uid)", "error": "\(error)"])
                }
                handler.perform(handler.session.messageLoaded(number: number, topLines: topLines, result), context)
            })
        case .sendMessage(let first, let bytes, let topLines):
            sendMessage(first, bytes, topLines: topLines, context)
        case .update(let mailbox, let seen, let deleted):
            let store = services.store, logger = self.logger
            run(context, work: { () -> Result<Int, StoreError> in
                await Self.update(store: store, mailbox: mailbox, seen: seen, deleted: deleted, logger: logger)
            }, then: { handler, context, result in
                switch result {
                case .success(let n): handler.logger.info("update", metadata: ["expunged": "\(n)"])
                case .failure(let error): handler.logger.error("update failed", metadata: ["error": "\(error)"])
                }
                handler.perform(handler.session.updateFinished(result), context)
            })
        }
    }

    /// The INBOX's state, creating the account's mailboxes on first use.
    static func openMaildrop(store: any MailStore, account: Account) async throws(StoreError) -> POP3Session.Maildrop {
        let inbox: MailboxInfo
        do {
            inbox = try await store.mailbox(account.id, named: "INBOX")
        } catch .notFound {
            try await store.prepareAccount(account.id)
            inbox = try await store.mailbox(account.id, named: "INBOX")
        }
        let messages = try await store.allMessages(in: inbox.id)
        return POP3Session.Maildrop(
            mailbox: inbox.id, uidValidity: inbox.uidValidity,
            messages: messages.map { POP3Session.Message(uid: $0.uid, size: $0.size, seen: $0.flags.system.contains(.seen)) })
    }

    /// RFC 1939 §6 UPDATE. `\Seen` first (its failure does not stop the deletions), then
    /// `\Deleted` on exactly the DELE'd UIDs and an expunge of exactly those: messages other
    /// clients marked `\Deleted` are not touched.
    static func update(store: any MailStore, mailbox: MailboxID, seen: UIDSet, deleted: UIDSet, logger: Logger) async -> Result<Int, StoreError> {
        if !seen.isEmpty {
            do {
                _ = try await store.setFlags(in: mailbox, uids: seen, .add, MessageFlags(system: .seen), unchangedSince: nil)
            } catch {
                logger.error("cannot set \\Seen", metadata: ["error": "\(error)"])
            }
        }
        guard !deleted.isEmpty else { return .success(0) }
        return await capture { () async throws(StoreError) in
            _ = try await store.setFlags(in: mailbox, uids: deleted, .add, MessageFlags(system: .deleted), unchangedSince: nil)
            return try await store.expunge(in: mailbox, uids: deleted).count
        }
    }

    /// RETR/TOP: the message dot-stuffed straight into one ByteBuffer (RFC 1939 §3).
    private func sendMessage(_ first: POP3Response, _ bytes: [UInt8], topLines: Int?, _ context: ChannelHandlerContext) {
        let length = topLines.map { POP3MessageText.topLength(bytes, bodyLines: $0) } ?? bytes.count
        var out = context.channel.allocator.buffer(capacity: length + length / 64 + 128)
        out.writeBytes(first.encoded)
        var stuffer = POP3DotStuffer()
        bytes.withUnsafeBytes { raw in
            stuffer.stuff(UnsafeRawBufferPointer(rebasing: raw[0..<length])) { out.writeBytes($0) }
        }
        stuffer.finish { out.writeBytes($0) }
        if stuffer.repairedLineFeeds > 0 {
            logger.warning("message has bare LF line ends; sent as CRLF", metadata: ["count": "\(stuffer.repairedLineFeeds)"])
        }
        context.write(wrapOutboundOut(out), promise: nil)
        unflushed = true
        drain(context)
    }

    /// After a large response: flush it (through TLS, if any, so that the socket's buffer
    /// counts it) and pause command processing while the channel is over its high watermark.
    private func drain(_ context: ChannelHandlerContext) {
        flush(context)
        if !context.channel.isWritable { waitingForWritability = true }
    }

    /// RFC 2595 §4: answer +OK, then the next bytes are a TLS handshake. Anything the client
    /// sent after STLS before seeing our +OK would be executed as if it came over TLS: refuse
    /// the connection instead (DESIGN.md §4, CVE-2011-0411 and its POP3 cousins).
    private func startTLS(_ context: ChannelHandlerContext) {
        guard let tls = services.tls else { return write(context, .error("TLS not available")) }
        guard buffer.readableBytes == 0 else {
            logger.warning("data pipelined after STLS: closing (command injection attempt?)")
            mode = .closed
            buffer.clear()
            close(context, .error("Pipelined data after STLS; closing connection"))
            return
        }
        write(context, .ok("Begin TLS negotiation"))
        flush(context)
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        } catch {
            logger.error("cannot start TLS", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        session.tlsStarted()
        parser = POP3CommandParser(configuration: session.configuration.parserConfiguration)
    }

    // MARK: SASL (RFC 5034)


    private func runSASL(_ action: SASLAction, _ context: ChannelHandlerContext) {
        switch action {
        case .challenge(let bytes):
            // RFC 5034 §4: "+" SP base64 challenge.
            write(context, .challenge(Base64.encode(bytes)))
            mode = .authResponse
        case .verifyPassword(let authcid, _, let password):
            let directory = services.directory
            run(context, work: { () -> (Bool, Account?, Bool) in
                let account: Account?
                do {
                    account = try await directory.account(login: authcid)
                } catch {
                    return (false, nil, true)
                }
                let ok = PasswordHash.verify(password, account: account)
                return (ok, account, false)
            }, then: { handler, context, result in
                if result.2 { return handler.directoryUnavailable(context) }
                handler.pendingAccount = result.1
                guard var sasl = handler.session.sasl else { return }
                let next = sasl.passwordVerified(result.0)
                handler.session.sasl = sasl
                handler.runSASL(next, context)
            })
        case .lookupSCRAM(let authcid, _):
            let directory = services.directory
            run(context, work: { () -> (Account?, Bool) in
                do {
                    return (try await directory.account(login: authcid), false)
                } catch {
                    return (nil, true)
                }
            }, then: { handler, context, result in
                if result.1 { return handler.directoryUnavailable(context) }
                handler.pendingAccount = result.0
                guard var sasl = handler.session.sasl else { return }
                let next = sasl.scramCredentials(result.0?.scram.flatMap(SCRAMCredentials.init(storageString:)))
                handler.session.sasl = sasl
                handler.runSASL(next, context)
            })
        case .success(let authcid, _, _):
            guard let account = pendingAccount, account.address.lowercased() == authcid.lowercased() else {
                pendingAccount = nil
                session.authenticationEnded()
                return perform(.authenticationFailed, context)
            }
            pendingAccount = nil
            perform(session.authenticated(as: account), context)
        case .failure(let failure):
            let mechanism = session.sasl?.mechanism.rawValue ?? "SASL"
            session.authenticationEnded()
            pendingAccount = nil
            switch failure {
            case .aborted:
                write(context, .error("Authentication cancelled"))
            case .malformed(let why):
                logger.notice("malformed SASL message", metadata: ["reason": "\(why)"])
                perform(session.error(.error("Malformed authentication data")), context)
            default:
                logger.notice("authentication failed", metadata: ["mechanism": "\(mechanism)", "reason": "\(failure)"])
                perform(.authenticationFailed, context)
            }
        }
    }

    private func directoryUnavailable(_ context: ChannelHandlerContext) {
        logger.error("directory lookup failed during AUTH")
        session.authenticationEnded()
        pendingAccount = nil
        write(context, .error(.sysTemp, "Authentication service temporarily unavailable, try again later"))
    }

    // MARK: Plumbing

    /// Runs `work` off the event loop, then `then` back on it, holding further input meanwhile.
    private func run<T: Sendable>(_ context: ChannelHandlerContext, work: @escaping @Sendable () async -> T,
                                  then: @escaping (POP3ConnectionHandler, ChannelHandlerContext, T) -> Void) {
        busy = true
        flush(context)
        let promise = context.eventLoop.makePromise(of: T.self)
        promise.completeWithTask(work)
        promise.futureResult.assumeIsolated().whenSuccess { [self] value in
            self.busy = false
            if case .closed = self.mode { return }
            then(self, context, value)
            self.resume(context)
        }
    }

    private func write(_ context: ChannelHandlerContext, _ response: POP3Response) {
        writeBytes(context, response.encoded)
    }

    private func writeBytes(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        var out = context.channel.allocator.buffer(capacity: bytes.count)
        out.writeBytes(bytes)
        context.write(wrapOutboundOut(out), promise: nil)
        unflushed = true
    }

    private func flush(_ context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    private func close(_ context: ChannelHandlerContext, _ response: POP3Response) {
        mode = .closed
        write(context, response)
        unflushed = false
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// `Result` of a throwing async call (`Result(catching:)` is synchronous only).
func capture<T>(_ body: () async throws(StoreError) -> T) async -> Result<T, StoreError> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}
