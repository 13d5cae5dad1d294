import Foundation
import LineFraming
import Logging
import MailAuth
import MailCore
import MailQueue
import MailStore
import NIOCore
import ServerSupport
import SMTPProtocol
import Metrics

/// SMTP and LMTP on the connection core: frames bytes into commands, DATA and BDAT chunks,
/// performs what `SMTPSession` decides, and runs lookups and commits off the event loop.
///
/// Pipelining (RFC 2920): commands are handled strictly in order; replies are written as they
/// are decided and flushed whenever no further complete command is buffered or work must wait.
final class SMTPDriver: SASLLineDriver {
    private enum Mode {
        case commands
        case data(DataDecoder)
        case chunk(BDATChunkReader, last: Bool, rejection: SMTPReply?)
    }

    private var session: SMTPSession
    private let services: SMTPServices
    var parser: SMTPCommandParser
    var pendingSASL: SASLExchange?
    private var mode = Mode.commands
    private var message: [UInt8] = []

    init(session: SMTPSession, services: SMTPServices) {
        self.session = session
        self.services = services
        self.parser = SMTPCommandParser(configuration: session.configuration.parserConfiguration)
    }

    // MARK: ConnectionDriver

    func start(_ connection: Connection<SMTPDriver>) {
        connection.write(session.greeting.encoded)
    }

    var atCommandBoundary: Bool {
        if case .commands = mode { return pendingSASL == nil && !parser.isDiscardingOverlongLine }
        return false
    }

    func farewell(_ reason: ConnectionCloseReason) -> [UInt8]? {
        let hostname = session.configuration.hostname
        switch reason {
        case .tooManyFromClient: return SMTPReply.tooManyConnections(hostname: hostname).encoded
        case .tooManyInTotal: return SMTPReply.serverBusy(hostname: hostname).encoded
        case .idleTimeout, .loginTimeout: return SMTPReply.timeout(hostname: hostname).encoded
        case .shuttingDown: return SMTPReply.serviceNotAvailable(hostname: hostname).encoded
        case .outputStalled: return nil
        }
    }

    func stopped() {}

    /// Refusals by reply code and enhanced status (RFC 3463): 550 5.1.1 unknown user, 554 5.7.1
    /// relaying denied, 552 5.3.4 too big, 4xx temporary failures.
    static func count(_ reply: SMTPReply) {
        guard reply.code >= 400 else { return }
        Counter(label: "swallow_smtp_refusals_total",
                dimensions: [("code", "\(reply.code)"), ("status", reply.enhanced.map { "\($0)" } ?? "")]).increment()
    }

    func receive(_ input: inout ByteBuffer, _ connection: Connection<SMTPDriver>) -> InputProgress {
        if pendingSASL != nil { return receiveSASLResponse(&input, connection) }
        switch mode {
        case .commands:
            let isBDAT = input.readableBytesView.prefix(5).map { $0 & 0xDF } == Array("BDAT ".utf8).map { $0 & 0xDF }
            let (result, consumed) = input.withUnsafeReadableBytes { parser.parse($0) }
            input.moveReaderIndex(forwardBy: consumed)
            switch result {
            case .needMoreBytes: return .needMoreBytes
            case .error(let reply) where isBDAT:
                // A malformed BDAT leaves us not knowing how many octets of chunk follow;
                // reading them as commands would execute message text (RFC 3030 §2).
                connection.close(reply.encoded)
            case .error(let reply): perform(session.error(reply), connection, input: input)
            case .command(let command):
                connection.logger.trace("command", metadata: ["verb": "\(command.verb)"])
                Counter(label: "swallow_commands_total", dimensions: [("protocol", session.role.isLMTP ? "lmtp" : "smtp"), ("command", "\(command.verb)")]).increment()
                perform(session.handle(command), connection, input: input)
            }
        case .data(var decoder):
            let result = input.withUnsafeReadableBytes { decoder.decode($0, into: &message) }
            switch result {
            case .needMoreBytes:
                input.moveReaderIndex(to: input.writerIndex)
                mode = .data(decoder)
                return .needMoreBytes
            case .complete(let consumed):
                input.moveReaderIndex(forwardBy: consumed)
                mode = .commands
                let bytes = message
                message = []
                finishMessage(bytes, connection)
            case .rejected(let why, let consumed):
                input.moveReaderIndex(forwardBy: consumed)
                mode = .commands
                message = []
                connection.logger.warning("message rejected: bare line ending in DATA (possible SMTP smuggling)",
                                          metadata: ["queue_id": "\(session.transaction?.queueID.rawValue ?? "-")"])
                _ = session.endTransaction()
                connection.write(why.reply.encoded)
            case .tooLarge(let consumed):
                input.moveReaderIndex(forwardBy: consumed)
                mode = .commands
                message = []
                _ = session.endTransaction()
                connection.write(SMTPReply.messageTooBig.encoded)
            }
        case .chunk(var reader, let last, let rejection):
            let take = input.withUnsafeReadableBytes { reader.read($0) }
            if rejection == nil, let bytes = input.getSlice(at: input.readerIndex, length: take) {
                session.appendChunk(ArraySlice(bytes.readableBytesView))
            }
            input.moveReaderIndex(forwardBy: take)
            mode = .chunk(reader, last: last, rejection: rejection)
            if reader.isComplete {
                mode = .commands
                chunkComplete(last: last, rejection: rejection, connection)
            }
        }
        return .handled
    }

    // MARK: Actions

    private func perform(_ action: SMTPSession.Action, _ connection: Connection<SMTPDriver>, input: ByteBuffer) {
        switch action {
        case .reply(let reply):
            Self.count(reply)
            connection.write(reply.encoded)
        case .close(let reply):
            connection.close(reply.encoded)
        case .startTLS:
            if connection.startTLS(ready: SMTPReply.readyToStartTLS.encoded,
                                   refusal: SMTPReply.pipelinedAfterSTARTTLS.encoded, input: input) {
                session.tlsStarted()
                parser = SMTPCommandParser(configuration: session.configuration.parserConfiguration)
            }
        case .readData:
            message = []
            message.reserveCapacity(64 * 1024)
            mode = .data(DataDecoder(maxMessageSize: session.configuration.maxMessageSize))
            connection.write(SMTPReply.startMailInput.encoded)
        case .readChunk(let size, let last, let rejection):
            mode = .chunk(BDATChunkReader(chunkSize: size), last: last, rejection: rejection)
            if size == 0 {
                mode = .commands
                chunkComplete(last: last, rejection: rejection, connection)
            }
        case .checkSender(let sender, let parameters):
            guard let account = session.account else { return perform(.reply(.authenticationRequired), connection, input: input) }
            let directory = services.directory
            let address = sender?.description
            connection.run({ () -> Bool in
                guard let address else { return false }  // no null sender from an authenticated user
                return (try? await directory.mayUseSender(address, account: account)) ?? false
            }, then: { driver, connection, allowed in
                driver.perform(driver.session.senderChecked(sender, parameters, allowed: allowed), connection, input: ByteBuffer())
            })
        case .resolveRecipient(let given, let parameters):
            let directory = services.directory
            let store = services.store
            let tempfail = services.quotaFullTempfail
            connection.run({ () -> (EmailAddress, SMTPSession.Resolution) in
                await Self.resolve(given, directory: directory, store: store, quotaFullTempfail: tempfail)
            }, then: { driver, connection, result in
                let (address, resolution) = result
                if case .failed(let why) = resolution {
                    connection.logger.error("recipient lookup failed", metadata: ["rcpt": "\(address)", "error": "\(why)"])
                }
                driver.perform(driver.session.recipientResolved(address, parameters, resolution), connection, input: ByteBuffer())
            })
        case .authenticate(let mechanism, let initialResponse):
            let exchange = SASLExchange(mechanism: mechanism, authenticator: services.authenticator, client: session.clientIP)
            runSASL(exchange, .start(initialResponse), connection)
        }
    }

    /// Where a recipient goes; bare `<Postmaster>` (RFC 5321 §4.5.1) is the postmaster of the
    /// first local domain that has one.
    static func resolve(_ given: EmailAddress, directory: any UserDirectory, store: any MailStore,
                        quotaFullTempfail: Bool) async -> (EmailAddress, SMTPSession.Resolution) {
        do {
            var address = given
            var resolution = RecipientResolution.unknownUser
            if !given.domain.isEmpty {
                resolution = try await directory.resolve(recipient: address.description)
            } else {
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
                for account in accounts where account.hasQuota {
                    if try await store.quotaUsage(account.id).isFull { return (address, .overQuota(quotaFullTempfail ? .mailboxFull(address.description) : .mailboxFullPermanently(address.description))) }
                }
                return (address, .local(accounts: accounts, forward: forward))
            }
        } catch {
            return (given, .failed("\(error)"))
        }
    }

    private func chunkComplete(last: Bool, rejection: SMTPReply?, _ connection: Connection<SMTPDriver>) {
        if let rejection {
            return perform(session.error(rejection), connection, input: ByteBuffer())
        }
        if !last {
            return connection.write(SMTPReply.chunkReceived(totalOctets: session.transaction?.chunkedSize ?? 0).encoded)
        }
        if session.chunkedSizeExceeded {
            _ = session.endTransaction()
            return connection.write(SMTPReply.messageTooBig.encoded)
        }
        finishMessage(session.transaction?.chunks ?? [], connection)
    }

    // MARK: SASL (RFC 4954)

    func challengeLine(_ challenge: [UInt8]) -> [UInt8] {
        SMTPReply.authChallenge(Base64.encodedString(challenge)).encoded
    }

    func refuseSASLLine(_ reply: SMTPReply, _ connection: Connection<SMTPDriver>) {
        perform(session.error(reply), connection, input: ByteBuffer())
    }

    func finishAuthentication(_ step: SASLExchange.Step, _ connection: Connection<SMTPDriver>) {
        switch step {
        case .challenge:
            break
        case .authenticated(let account):
            session.authenticated(as: account)
            connection.loggedIn()
            connection.logger[metadataKey: "user"] = "\(account.address)"
            connection.logger.info("authenticated")
            connection.write(SMTPReply.authenticationSucceeded.encoded)
        case .rejected:
            connection.logger.notice("authentication failed")
            let maxFailures = services.authenticator.configuration.maxFailuresPerConnection
            perform(session.authenticationFailed(maxFailures: maxFailures), connection, input: ByteBuffer())
        case .aborted:
            connection.write(SMTPReply.authenticationCancelled.encoded)
        case .malformed(let why):
            connection.logger.notice("malformed SASL message", metadata: ["reason": "\(LogSafe.escape(why))"])
            perform(session.error(.malformedAuthentication), connection, input: ByteBuffer())
        case .unavailable(let why):
            connection.logger.error("authentication unavailable", metadata: ["reason": "\(why)"])
            connection.write(SMTPReply.temporaryAuthenticationFailure.encoded)
        }
    }

    // MARK: Storing a message

    private func finishMessage(_ bytes: [UInt8], _ connection: Connection<SMTPDriver>) {
        guard let transaction = session.endTransaction() else { return connection.write(SMTPReply.badSequence.encoded) }
        let services = self.services
        let session = self.session
        let protocolName = ReceivedHeader.protocolName(lmtp: session.role.isLMTP, esmtp: session.esmtp, tls: session.tlsActive,
                                                       authenticated: session.account != nil, utf8: transaction.parameters.smtpUTF8)
        // What the trace shows of where the message came from (MessageTrace).
        var origin = ["client": session.clientIP, "helo": session.heloName ?? "unknown",
                      "protocol": protocolName, "tls": session.tlsActive ? connection.tlsVersion ?? "TLS" : "none",
                      "listener": session.role.rawValue]
        if let account = session.account { origin["auth"] = account.address }
        let traced = origin
        // Like OpenDKIM's InternalHosts beside Postfix: what our users and our own hosts send is
        // signed; mail arriving from elsewhere, and LMTP (a final delivery), is not.
        let sign = !session.role.isLMTP && (session.account != nil || session.clientInTrustedNetwork)
        let received = ReceivedHeader.make(
            helo: session.heloName ?? "unknown", clientIP: session.clientIP, hostname: session.configuration.hostname,
            protocolName: protocolName,
            queueID: transaction.queueID.rawValue,
            recipient: transaction.recipients.count == 1 ? transaction.recipients[0].address : nil)
        var logger = connection.logger
        logger[metadataKey: "queue_id"] = "\(transaction.queueID)"
        let messageLogger = logger
        let lmtp = session.role.isLMTP
        connection.run({ () -> [SMTPReply] in
            await MessageAcceptance.accept(bytes, received: received, transaction: transaction, services: services, lmtp: lmtp,
                                           origin: traced, sign: sign, logger: messageLogger)
        }, then: { _, connection, replies in
            for reply in replies {
                Self.count(reply)
                connection.write(reply.encoded)
            }
        })
    }
}
