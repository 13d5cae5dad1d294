import Foundation
import LineFraming
import Logging
import MailAuth
import MailCore
import MailStore
import NIOCore
import POP3Protocol
import ServerSupport
import Metrics

/// POP3 on the connection core: frames bytes into commands and SASL responses, performs what
/// `POP3Session` decides, and runs logins and store work off the event loop.
///
/// Pipelining (RFC 2449 §6.6): commands are handled strictly in order. A message being sent
/// pauses command handling (and, past the buffered-input limit, reading) until the channel
/// drains, so a client that pipelines many RETRs and reads slowly holds one message in memory.
final class POP3Driver: SASLLineDriver {
    private var session: POP3Session
    private let services: POP3Services
    var parser: POP3CommandParser
    var pendingSASL: SASLExchange?

    init(session: POP3Session, services: POP3Services) {
        self.session = session
        self.services = services
        self.parser = POP3CommandParser(configuration: session.configuration.parserConfiguration)
    }

    // MARK: ConnectionDriver

    func start(_ connection: Connection<POP3Driver>) {
        connection.write(session.greeting.encoded)
    }

    var atCommandBoundary: Bool {
        pendingSASL == nil && !parser.isDiscardingOverlongLine
    }

    func farewell(_ reason: ConnectionCloseReason) -> [UInt8]? {
        switch reason {
        case .tooManyFromClient: POP3Response.error(.sysTemp, "Too many connections from your address").encoded
        case .tooManyInTotal: POP3Response.error(.sysTemp, "Too many connections, try again later").encoded
        case .idleTimeout: POP3Response.error("Disconnected for inactivity").encoded
        case .loginTimeout: POP3Response.error("Login timeout").encoded
        case .shuttingDown: POP3Response.error(.sysTemp, "Server shutting down").encoded
        case .outputStalled: nil
        }
    }

    func stopped() {
        if session.state == .transaction {
            // RFC 1939 §6: no UPDATE without QUIT, so DELE marks are dropped.
            services.logger.info("disconnected without QUIT", metadata: [
                "client": "\(session.clientIP)", "deletions_dropped": "\(session.deleted.filter { $0 }.count)"])
        }
        if let owed = session.seenOnDisconnect {
            // Dovecot applies \Seen for what RETR sent even without QUIT.
            let store = services.store, logger = services.logger
            Task {
                do {
                    _ = try await store.setFlags(in: owed.mailbox, uids: owed.uids, .add, MessageFlags(system: .seen), unchangedSince: nil)
                } catch {
                    logger.error("cannot set \\Seen after disconnect", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    func receive(_ input: inout ByteBuffer, _ connection: Connection<POP3Driver>) -> InputProgress {
        if pendingSASL != nil { return receiveSASLResponse(&input, connection) }
        let (result, consumed) = input.withUnsafeReadableBytes { parser.parse($0) }
        input.moveReaderIndex(forwardBy: consumed)
        switch result {
        case .needMoreBytes: return .needMoreBytes
        case .error(let response):
            logRefusal(response, command: nil, connection)
            perform(session.error(response), connection, input: input)
        case .command(let command):
            connection.logger.trace("command", metadata: ["keyword": "\(command.keyword)"])
            Counter(label: "swallow_commands_total", dimensions: [("protocol", "pop3"), ("command", command.keyword)]).increment()
            let action = session.handle(command)
            switch action {
            case .reply(let response), .close(let response), .multiline(let response, _):
                logRefusal(response, command: command.keyword, connection)
            default:
                break
            }
            perform(action, connection, input: input)
        }
        return .handled
    }

    /// An -ERR in the log, for the administrator: the command's keyword and the reason, never
    /// its arguments (PASS carries a password).
    private func logRefusal(_ response: POP3Response, command: String?, _ connection: Connection<POP3Driver>) {
        guard !response.isOK else { return }
        Counter(label: "swallow_command_refusals_total", dimensions: [("protocol", "pop3"), ("status", "-ERR")]).increment()
        connection.logger.info("refused", metadata: ["command": "\(command ?? "?")", "status": "-ERR",
                                                     "reason": "\(LogSafe.escape(response.text))"])
    }

    // MARK: Actions

    private func perform(_ action: POP3Session.Action, _ connection: Connection<POP3Driver>, input: ByteBuffer) {
        switch action {
        case .reply(let response):
            connection.write(response.encoded)
        case .multiline(let first, let lines):
            connection.write(first.encodedMultiline(lines: lines))
            if lines.count > 1000 { connection.drain() }
        case .close(let response):
            connection.close(response.encoded)
        case .startTLS:
            if connection.startTLS(ready: POP3Response.ok("Begin TLS negotiation").encoded,
                                   refusal: POP3Response.error("Pipelined data after STLS; closing connection").encoded,
                                   input: input) {
                session.tlsStarted()
                parser = POP3CommandParser(configuration: session.configuration.parserConfiguration)
            }
        case .checkPassword(let login, let password):
            let authenticator = services.authenticator, client = session.clientIP
            connection.run(cancellable: true, { await authenticator.checkPassword(login: login, password: password, client: client) },
                           then: { driver, connection, outcome in
                switch outcome {
                case .authenticated(let account):
                    driver.perform(driver.session.passwordChecked(.accepted(account)), connection, input: ByteBuffer())
                case .rejected:
                    connection.logger.notice("authentication failed", metadata: ["mechanism": "USER"])
                    driver.perform(driver.session.passwordChecked(.rejected), connection, input: ByteBuffer())
                case .unavailable(let why):
                    connection.logger.error("authentication unavailable", metadata: ["reason": "\(why)"])
                    driver.perform(driver.session.passwordChecked(.unavailable), connection, input: ByteBuffer())
                }
            })
        case .authenticate(let mechanism, let initialResponse):
            let exchange = SASLExchange(mechanism: mechanism, authenticator: services.authenticator, client: session.clientIP)
            runSASL(exchange, .start(initialResponse), connection)
        case .openMaildrop(let account):
            connection.loggedIn()
            connection.logger[metadataKey: "user"] = "\(account.address)"
            connection.logger.info("authenticated")
            let store = services.store
            let collect = services.collectSpool
            let logger = connection.logger
            connection.run({ () -> Result<POP3Session.Maildrop, StoreError> in
                await collect?(account, logger)
                return await capture { () async throws(StoreError) in try await Self.openMaildrop(store: store, account: account) }
            }, then: { driver, connection, result in
                switch result {
                case .success(let drop): connection.logger.info("maildrop opened", metadata: ["messages": "\(drop.messages.count)"])
                case .failure(let error): connection.logger.error("cannot open maildrop", metadata: ["error": "\(error)"])
                }
                driver.perform(driver.session.maildropOpened(result), connection, input: ByteBuffer())
            })
        case .loadMessage(let mailbox, let number, let uid, let topLines):
            let store = services.store
            connection.run({ () -> Result<[UInt8], StoreError> in
                await capture { () async throws(StoreError) in try await store.messageBytes(in: mailbox, uid: uid) }
            }, then: { driver, connection, result in
                if case .failure(let error) = result, error != .expunged {
                    connection.logger.error("cannot read message", metadata: ["uid": "\(uid)", "error": "\(error)"])
                }
                driver.perform(driver.session.messageLoaded(number: number, topLines: topLines, result), connection, input: ByteBuffer())
            })
        case .sendMessage(let first, let bytes, let topLines):
            sendMessage(first, bytes, topLines: topLines, connection)
        case .update(let mailbox, let seen, let deleted):
            let store = services.store, logger = connection.logger
            connection.run({ () -> Result<Int, StoreError> in
                await Self.update(store: store, mailbox: mailbox, seen: seen, deleted: deleted, logger: logger)
            }, then: { driver, connection, result in
                switch result {
                case .success(let n): connection.logger.info("update", metadata: ["expunged": "\(n)"])
                case .failure(let error): connection.logger.error("update failed", metadata: ["error": "\(error)"])
                }
                driver.perform(driver.session.updateFinished(result), connection, input: ByteBuffer())
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
    private func sendMessage(_ first: POP3Response, _ bytes: [UInt8], topLines: Int?, _ connection: Connection<POP3Driver>) {
        let length = topLines.map { POP3MessageText.topLength(bytes, bodyLines: $0) } ?? bytes.count
        var out = connection.allocator.buffer(capacity: length + length / 64 + 128)
        out.writeBytes(first.encoded)
        var stuffer = POP3DotStuffer()
        bytes.withUnsafeBytes { raw in
            stuffer.stuff(UnsafeRawBufferPointer(rebasing: raw[0..<length])) { out.writeBytes($0) }
        }
        stuffer.finish { out.writeBytes($0) }
        if stuffer.repairedLineFeeds > 0 {
            connection.logger.warning("message has bare LF line ends; sent as CRLF", metadata: ["count": "\(stuffer.repairedLineFeeds)"])
        }
        connection.write(out)
        connection.drain()
    }

    // MARK: SASL (RFC 5034)

    /// RFC 5034 §4: "+" SP base64 challenge.
    func challengeLine(_ challenge: [UInt8]) -> [UInt8] {
        POP3Response.challenge(Base64.encodedString(challenge)).encoded
    }

    func refuseSASLLine(_ response: POP3Response, _ connection: Connection<POP3Driver>) {
        perform(session.error(response), connection, input: ByteBuffer())
    }

    /// RFC 5034 §4: a cancelled exchange ("*") is answered -ERR.
    func finishAuthentication(_ step: SASLExchange.Step, _ connection: Connection<POP3Driver>) {
        switch step {
        case .challenge:
            break
        case .authenticated(let account):
            perform(session.authenticated(as: account), connection, input: ByteBuffer())
        case .rejected:
            connection.logger.notice("authentication failed")
            perform(session.authenticationFailed(), connection, input: ByteBuffer())
        case .aborted:
            connection.write(POP3Response.error("Authentication cancelled").encoded)
        case .malformed(let why):
            connection.logger.notice("malformed SASL message", metadata: ["reason": "\(LogSafe.escape(why))"])
            perform(session.error(.error("Malformed authentication data")), connection, input: ByteBuffer())
        case .unavailable(let why):
            connection.logger.error("authentication unavailable", metadata: ["reason": "\(why)"])
            connection.write(POP3Session.authenticationUnavailable.encoded)
        }
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
