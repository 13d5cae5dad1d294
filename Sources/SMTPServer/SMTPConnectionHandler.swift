import Foundation
import Logging
import MailAuth
import MailCore
import MailQueue
import NIOCore
import NIOSSL
import ServerSupport
import SMTPProtocol

/// The NIO side of one SMTP/LMTP connection: frames bytes into commands, DATA and BDAT chunks,
/// performs what `SMTPSession` decides, and runs lookups and commits off the event loop.
///
/// Pipelining (RFC 2920): commands are handled strictly in order; replies are written as they
/// are decided and flushed whenever no further complete command is buffered or work must wait.
final class SMTPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case commands
        case authResponse
        case data(DataDecoder)
        case chunk(BDATChunkReader, last: Bool, rejection: SMTPReply?)
        case closed
    }

    private var session: SMTPSession
    private let services: SMTPServices
    private let limiter: ConnectionLimiter
    private var parser = SMTPCommandParser()
    private var mode = Mode.commands
    private var buffer = ByteBuffer()
    private var message: [UInt8] = []
    /// Work (a lookup, a commit) is running; input waits in `buffer`.
    private var busy = false
    private var readPaused = false
    private var unflushed = false
    private var acquiredSlot = false
    /// The account a SASL exchange is about, between its lookup and its outcome.
    private var pendingAccount: Account?
    private var logger: Logger

    init(session: SMTPSession, services: SMTPServices, limiter: ConnectionLimiter) {
        self.session = session
        self.services = services
        self.limiter = limiter
        self.logger = services.logger
        logger[metadataKey: "client"] = "\(session.clientIP)"
        logger[metadataKey: "service"] = "\(session.role.rawValue)"
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        guard limiter.acquire(session.clientIP) else {
            logger.notice("too many connections from client")
            close(context, SMTPReply(code: 421, enhanced: .init(4, 7, 0), "\(session.configuration.hostname) Error: too many connections from your address"))
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
        logger.debug("disconnect")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if case .closed = mode { return }
        buffer.writeBuffer(&incoming)
        if busy, buffer.readableBytes > session.configuration.maxBufferedInput, !readPaused {
            // Back-pressure: stop reading until the running work finishes.
            readPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        process(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, !busy {
            logger.info("idle timeout")
            close(context, .timeout(hostname: session.configuration.hostname))
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
        loop: while !busy && buffer.readableBytes > 0 {
            switch mode {
            case .closed:
                buffer.clear()
                return
            case .commands:
                let isBDAT = buffer.readableBytesView.prefix(5).map { $0 & 0xDF } == Array("BDAT ".utf8).map { $0 & 0xDF }
                let (result, consumed) = buffer.withUnsafeReadableBytes { parser.parse($0) }
                buffer.moveReaderIndex(forwardBy: consumed)
                switch result {
                case .needMoreBytes: break loop
                case .error(let reply) where isBDAT:
                    // A malformed BDAT leaves us not knowing how many octets of chunk follow;
                    // reading them as commands would execute message text (RFC 3030 §2).
                    close(context, reply)
                case .error(let reply): perform(session.error(reply), context)
                case .command(let command):
                    logger.trace("command", metadata: ["verb": "\(command.verb)"])
                    perform(session.handle(command), context)
                }
            case .authResponse:
                let (result, consumed) = buffer.withUnsafeReadableBytes { parser.parseAuthResponse($0) }
                buffer.moveReaderIndex(forwardBy: consumed)
                switch result {
                case .needMoreBytes: break loop
                case .cancel:
                    mode = .commands
                    if var sasl = session.sasl { runSASL(sasl.abort(), context) } else { write(context, .authenticationCancelled) }
                case .error(let reply):
                    mode = .commands
                    session.authenticationEnded()
                    perform(session.error(reply), context)
                case .response(let text):
                    guard let bytes = Base64.decode(text) else {
                        mode = .commands
                        session.authenticationEnded()
                        perform(session.error(.invalidBase64), context)
                        continue
                    }
                    mode = .commands
                    guard var sasl = session.sasl else { write(context, .badSequence); continue }
                    let action = sasl.receive(bytes)
                    session.sasl = sasl
                    runSASL(action, context)
                }
            case .data(var decoder):
                let result = buffer.withUnsafeReadableBytes { decoder.decode($0, into: &message) }
                switch result {
                case .needMoreBytes:
                    buffer.moveReaderIndex(to: buffer.writerIndex)
                    mode = .data(decoder)
                case .complete(let consumed):
                    buffer.moveReaderIndex(forwardBy: consumed)
                    mode = .commands
                    let bytes = message
                    message = []
                    finishMessage(bytes, context)
                case .rejected(let why, let consumed):
                    buffer.moveReaderIndex(forwardBy: consumed)
                    mode = .commands
                    message = []
                    logger.warning("message rejected: bare line ending in DATA (possible SMTP smuggling)",
                                   metadata: ["queue_id": "\(session.transaction?.queueID.rawValue ?? "-")"])
                    _ = session.endTransaction()
                    write(context, why.reply)
                case .tooLarge(let consumed):
                    buffer.moveReaderIndex(forwardBy: consumed)
                    mode = .commands
                    message = []
                    _ = session.endTransaction()
                    write(context, .messageTooBig)
                }
            case .chunk(var reader, let last, let rejection):
                let take = buffer.withUnsafeReadableBytes { reader.read($0) }
                if rejection == nil, let bytes = buffer.getSlice(at: buffer.readerIndex, length: take) {
                    session.appendChunk(ArraySlice(bytes.readableBytesView))
                }
                buffer.moveReaderIndex(forwardBy: take)
                mode = .chunk(reader, last: last, rejection: rejection)
                if reader.isComplete {
                    mode = .commands
                    chunkComplete(last: last, rejection: rejection, context)
                }
            }
        }
        if buffer.readerIndex > 64 * 1024 { buffer.discardReadBytes() }
        flush(context)
    }

    // MARK: Actions

    private func perform(_ action: SMTPSession.Action, _ context: ChannelHandlerContext) {
        switch action {
        case .reply(let reply):
            write(context, reply)
        case .close(let reply):
            close(context, reply)
        case .startTLS:
            startTLS(context)
        case .readData:
            message = []
            message.reserveCapacity(64 * 1024)
            mode = .data(DataDecoder(maxMessageSize: session.configuration.maxMessageSize))
            write(context, .startMailInput)
        case .readChunk(let size, let last, let rejection):
            mode = .chunk(BDATChunkReader(chunkSize: size), last: last, rejection: rejection)
            if size == 0 {
                mode = .commands
                chunkComplete(last: last, rejection: rejection, context)
            }
        case .checkSender(let sender, let parameters):
            guard let account = session.account else { return perform(.reply(.authenticationRequired), context) }
            let directory = services.directory
            let address = sender?.description
            run(context, work: { () -> Bool in
                guard let address else { return false }  // no null sender from a submitting user
                return (try? await directory.mayUseSender(address, account: account)) ?? false
            }, then: { handler, context, allowed in
                handler.perform(handler.session.senderChecked(sender, parameters, allowed: allowed), context)
            })
        case .resolveRecipient(let given, let parameters):
            let directory = services.directory
            let store = services.store
            run(context, work: { () -> (EmailAddress, SMTPSession.Resolution) in
                do {
                    var address = given
                    var resolution = try await directory.resolve(recipient: address.description)
                    if given.domain.isEmpty {
                        // RFC 5321 §4.5.1: bare <Postmaster> is the postmaster of the first local
                        // domain that has one.
                        resolution = .unknownUser
                        for domain in try await directory.listDomains() {
                            let candidate = EmailAddress(localPart: given.localPart, domain: domain)
                            let r = try await directory.resolve(recipient: candidate.description)
                            if case .deliver = r {
                                address = candidate
                                resolution = r
                                break
                            }
                        }
                    }
                    switch resolution {
                    case .notLocal: return (address, .remote)
                    case .unknownUser: return (address, .unknown)
                    case .deliver(let accounts, let forward):
                        for account in accounts where account.quotaBytes > 0 {
                            let usage = try await store.quotaUsage(account.id)
                            if usage.bytes >= usage.limitBytes { return (address, .overQuota(address.description)) }
                        }
                        return (address, .local(accounts: accounts, forward: forward))
                    }
                } catch {
                    return (given, .failed("\(error)"))
                }
            }, then: { handler, context, result in
                let (address, resolution) = result
                if case .failed(let why) = resolution {
                    handler.logger.error("recipient lookup failed", metadata: ["rcpt": "\(address)", "error": "\(why)"])
                }
                handler.perform(handler.session.recipientResolved(address, parameters, resolution), context)
            })
        case .sasl(let action):
            runSASL(action, context)
        }
    }

    private func chunkComplete(last: Bool, rejection: SMTPReply?, _ context: ChannelHandlerContext) {
        if let rejection {
            perform(session.error(rejection), context)
            return
        }
        if !last {
            write(context, SMTPReply(code: 250, enhanced: .init(2, 0, 0), "\(session.transaction?.chunkedSize ?? 0) octets received"))
            return
        }
        if session.chunkedSizeExceeded {
            _ = session.endTransaction()
            write(context, .messageTooBig)
            return
        }
        finishMessage(session.transaction?.chunks ?? [], context)
    }

    /// RFC 3207: answer 220, then the next bytes are a TLS handshake. Anything the client sent
    /// after STARTTLS before seeing our 220 would be executed as if it came over TLS: refuse
    /// the connection instead (DESIGN.md §4, CVE-2011-0411).
    private func startTLS(_ context: ChannelHandlerContext) {
        guard let tls = services.tls else { return write(context, .tlsNotAvailable) }
        guard buffer.readableBytes == 0 else {
            logger.warning("data pipelined after STARTTLS: closing (command injection attempt?)")
            mode = .closed
            buffer.clear()
            close(context, SMTPReply(code: 554, enhanced: .init(5, 5, 1), "Error: pipelined data after STARTTLS"))
            return
        }
        write(context, .readyToStartTLS)
        flush(context)
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
        } catch {
            logger.error("cannot start TLS", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        session.tlsStarted()
        parser = SMTPCommandParser()
    }

    // MARK: SASL


    private func runSASL(_ action: SASLAction, _ context: ChannelHandlerContext) {
        switch action {
        case .challenge(let bytes):
            write(context, .authChallenge(Base64.encode(bytes)))
            mode = .authResponse
        case .verifyPassword(let authcid, _, let password):
            let directory = services.directory
            run(context, work: { () -> (Bool, Account?) in
                let account = try? await directory.account(login: authcid)
                // Hash even for unknown users so timing does not reveal which logins exist.
                let ok = PasswordHash.verify(password, account: account)
                return (ok, account)
            }, then: { handler, context, result in
                handler.pendingAccount = result.1
                guard var sasl = handler.session.sasl else { return }
                let next = sasl.passwordVerified(result.0)
                handler.session.sasl = sasl
                handler.runSASL(next, context)
            })
        case .lookupSCRAM(let authcid, _):
            let directory = services.directory
            run(context, work: { () -> Account? in
                try? await directory.account(login: authcid)
            }, then: { handler, context, account in
                handler.pendingAccount = account
                guard var sasl = handler.session.sasl else { return }
                let next = sasl.scramCredentials(account?.scram.flatMap(SCRAMCredentials.init(storageString:)))
                handler.session.sasl = sasl
                handler.runSASL(next, context)
            })
        case .success(let authcid, _, _):
            guard let account = pendingAccount, account.address.lowercased() == authcid.lowercased() else {
                session.authenticationEnded()
                return write(context, .authenticationFailed)
            }
            pendingAccount = nil
            session.authenticated(as: account)
            logger[metadataKey: "user"] = "\(account.address)"
            logger.info("authenticated")
            let throttle = services.throttle, client = session.clientIP
            Task { await throttle.recordSuccess(client: client) }
            write(context, .authenticationSucceeded)
        case .failure(let failure):
            session.authenticationEnded()
            pendingAccount = nil
            switch failure {
            case .aborted:
                write(context, .authenticationCancelled)
            case .malformed(let why):
                perform(session.error(SMTPReply(code: 501, enhanced: .init(5, 5, 2), "Malformed authentication data: \(why)")), context)
            default:
                // A growing delay before the failure reply (DESIGN.md §4 auth failures per IP).
                let throttle = services.throttle, client = session.clientIP
                logger.notice("authentication failed", metadata: ["reason": "\(failure)"])
                run(context, work: { () -> Void in
                    let delay = await throttle.recordFailure(client: client)
                    try? await Task.sleep(for: delay)
                }, then: { handler, context, _ in
                    handler.perform(handler.session.error(.authenticationFailed), context)
                })
            }
        }
    }

    // MARK: Storing a message

    private func finishMessage(_ bytes: [UInt8], _ context: ChannelHandlerContext) {
        guard let transaction = session.endTransaction() else { return write(context, .badSequence) }
        let services = self.services
        let session = self.session
        let received = ReceivedHeader.make(
            helo: session.heloName ?? "unknown", clientIP: session.clientIP, hostname: session.configuration.hostname,
            protocolName: ReceivedHeader.protocolName(lmtp: session.role.isLMTP, esmtp: session.esmtp, tls: session.tlsActive,
                                                      authenticated: session.account != nil, utf8: transaction.parameters.smtpUTF8),
            queueID: transaction.queueID.rawValue,
            recipient: transaction.recipients.count == 1 ? transaction.recipients[0].address : nil)
        var messageLogger = self.logger
        messageLogger[metadataKey: "queue_id"] = "\(transaction.queueID)"
        let logger = messageLogger
        let lmtp = session.role.isLMTP
        run(context, work: { () -> [SMTPReply] in
            await MessageAcceptance.accept(bytes, received: received, transaction: transaction, services: services, lmtp: lmtp, logger: logger)
        }, then: { handler, context, replies in
            for reply in replies { handler.write(context, reply) }
        })
    }

    // MARK: Plumbing

    /// Runs `work` off the event loop, then `then` back on it, holding further input meanwhile.
    private func run<T: Sendable>(_ context: ChannelHandlerContext, work: @escaping @Sendable () async -> T,
                                  then: @escaping (SMTPConnectionHandler, ChannelHandlerContext, T) -> Void) {
        busy = true
        flush(context)
        let promise = context.eventLoop.makePromise(of: T.self)
        promise.completeWithTask(work)
        promise.futureResult.assumeIsolated().whenSuccess { [self] value in
            self.busy = false
            if case .closed = self.mode { return }
            then(self, context, value)
            if self.readPaused {
                self.readPaused = false
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            }
            self.process(context)
        }
    }

    private func write(_ context: ChannelHandlerContext, _ reply: SMTPReply) {
        var out = context.channel.allocator.buffer(capacity: 64)
        out.writeBytes(reply.encoded)
        context.write(wrapOutboundOut(out), promise: nil)
        unflushed = true
    }

    private func flush(_ context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    private func close(_ context: ChannelHandlerContext, _ reply: SMTPReply) {
        mode = .closed
        write(context, reply)
        unflushed = false
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in channel.close(promise: nil) }
    }
}
