import IMAPProtocol
import Logging
import MailCore
import NIOCore
import ServerSupport

/// IMAP on the connection core, as a codec: input is framed into commands with
/// `IMAPCommandParser` (literal continuations and grammar errors answered here), each command is
/// handed to the `IMAPSession` in order, and the session's decisions come back as responses it
/// writes through the connection's writer. STARTTLS is decided here (the session learns of it
/// after the handshake started) and performed by the core's guard.
final class IMAPDriver: ConnectionDriver {
    private enum Mode {
        case commands
        case authenticationResponse
        case idle
    }

    private let configuration: IMAPServerConfiguration
    private let services: IMAPServices
    private let clientIP: String
    private var session: IMAPSession?
    private var parser: IMAPCommandParser
    private var mode = Mode.commands
    private var authenticated = false
    /// The parser still has the pre-login limits.
    private var preLoginParser = true
    private var badCommands = 0

    init(configuration: IMAPServerConfiguration, services: IMAPServices, clientIP: String) {
        self.configuration = configuration
        self.services = services
        self.clientIP = clientIP
        self.parser = IMAPCommandParser(configuration: configuration.preLoginParserConfiguration)
    }

    private func encode(_ response: IMAPResponse) -> [UInt8] { IMAPEncoder(utf8: false).encode(response) }

    // MARK: ConnectionDriver

    func start(_ connection: Connection<IMAPDriver>) {
        session = IMAPSession(configuration: configuration, services: services, writer: connection.makeWriter(),
                              clientIP: clientIP, tlsActive: connection.tlsActive)
        let caps = Capabilities.list(tlsActive: connection.tlsActive, tlsAvailable: services.tlsAvailable, authenticated: false,
                                     configuration: configuration)
        connection.write(encode(.untagged(.condition(.ok, code: .capability(caps), text: "\(configuration.hostname) Swallow IMAP ready."))))
    }

    var atCommandBoundary: Bool {
        switch mode {
        case .commands, .idle: !parser.hasPartialCommand
        case .authenticationResponse: false
        }
    }

    func farewell(_ reason: ConnectionCloseReason) -> [UInt8]? {
        let text: String
        switch reason {
        case .tooManyFromClient: text = "Too many connections from your address."
        case .tooManyInTotal: text = "Too many connections, try again later."
        case .idleTimeout: text = "Disconnected for inactivity."
        case .loginTimeout: text = "Login timeout."
        case .shuttingDown: text = "Server shutting down."
        case .outputStalled: return nil
        }
        return encode(.untagged(.condition(.bye, text: text)))
    }

    func stopped() {
        if let session { Task { await session.shutdown() } }
    }

    func receive(_ input: inout ByteBuffer, _ connection: Connection<IMAPDriver>) -> InputProgress {
        guard let session else { return .needMoreBytes }
        switch mode {
        case .commands:
            let (result, consumed) = input.withUnsafeReadableBytes { parser.parse($0) }
            input.moveReaderIndex(forwardBy: consumed)
            switch result {
            case .needMoreBytes:
                return .needMoreBytes
            case .needContinuation:
                connection.write(encode(.continuation("Ready for literal data")))
                connection.flush()
            case .error(let tag, let message):
                // What could not be parsed: its tag and the parser's reason, not the line.
                connection.logger.info("refused", metadata: ["tag": "\(LogSafe.escape(tag ?? "*"))", "status": "BAD",
                                                             "reason": "\(LogSafe.escape(message))"])
                badCommand(Self.status(tag, .bad, nil, message), connection)
            case .tooBig(let tag, let message):
                connection.write(encode(Self.status(tag, .no, .tooBig, message)))
            case .fatal(_, let message):
                connection.logger.notice("closing: \(message)")
                connection.close(encode(.untagged(.condition(.bye, text: message))))
            case .command(let command):
                connection.logger.trace("command", metadata: ["command": "\(command.command.name)"])
                if case .startTLS = command.command {
                    startTLS(tag: command.tag, input: input, connection)
                } else if case .compress(let algorithm) = command.command {
                    compress(tag: command.tag, algorithm: algorithm, input: input, connection)
                } else {
                    dispatch(connection) { await session.execute(command) }
                }
            }
        case .authenticationResponse:
            let (result, consumed) = input.withUnsafeReadableBytes { parser.parseAuthenticateResponse($0) }
            input.moveReaderIndex(forwardBy: consumed)
            switch result {
            case .needMoreBytes: return .needMoreBytes
            case .response(let bytes): dispatch(connection) { await session.authenticationResponse(bytes) }
            case .cancelled: dispatch(connection) { await session.authenticationCancelled() }
            case .error(let message): dispatch(connection) { await session.authenticationResponseError(message) }
            }
        case .idle:
            let (result, consumed) = input.withUnsafeReadableBytes { parser.parseIdleDone($0) }
            input.moveReaderIndex(forwardBy: consumed)
            switch result {
            case .needMoreBytes: return .needMoreBytes
            case .done: dispatch(connection) { await session.endIdle(error: nil) }
            case .error(let message): dispatch(connection) { await session.endIdle(error: message) }
            }
        }
        return .handled
    }

    /// A tagged status, or an untagged one when no tag could be read.
    private static func status(_ tag: String?, _ status: TaggedStatus, _ code: IMAPResponseCode?, _ text: String) -> IMAPResponse {
        if let tag { return .tagged(tag: tag, status: status, code: code, text: text) }
        return .untagged(.condition(status == .no ? .no : .bad, code: code, text: text))
    }

    private func badCommand(_ line: IMAPResponse, _ connection: Connection<IMAPDriver>) {
        badCommands += 1
        connection.write(encode(line))
        if badCommands >= configuration.limits.maxBadCommands {
            connection.close(encode(.untagged(.condition(.bye, text: "Too many invalid commands."))))
        }
    }

    /// RFC 9051 §6.2.1: the TLS negotiation starts right after our OK.
    private func startTLS(tag: String, input: ByteBuffer, _ connection: Connection<IMAPDriver>) {
        if connection.tlsActive { return connection.write(encode(.bad(tag, nil, "TLS is already active."))) }
        if authenticated { return connection.write(encode(.bad(tag, nil, "Already authenticated."))) }
        guard services.tlsAvailable else { return connection.write(encode(.no(tag, .cannot, "TLS is not available."))) }
        let refusal = encode(.untagged(.condition(.bye, text: "Pipelined data after STARTTLS.")))
        guard !parser.hasPartialCommand else { return connection.close(refusal) }
        guard connection.startTLS(ready: encode(.ok(tag, nil, "Begin TLS negotiation now.")), refusal: refusal, input: input),
              let session else { return }
        parser = IMAPCommandParser(configuration: configuration.preLoginParserConfiguration)
        dispatch(connection) {
            await session.tlsStarted()
            return IMAPSession.Outcome(next: .commands, authenticated: false)
        }
    }

    /// RFC 4978 §3: compression starts right after our OK, in both directions.
    private func compress(tag: String, algorithm: String, input: ByteBuffer, _ connection: Connection<IMAPDriver>) {
        guard authenticated else { return connection.write(encode(.bad(tag, nil, "Log in first."))) }
        guard algorithm == "DEFLATE" else {
            return connection.write(encode(.bad(tag, nil, "Unknown compression algorithm; this server offers DEFLATE.")))
        }
        if connection.compressionActive {
            return connection.write(encode(.no(tag, .compressionActive, "DEFLATE is already active.")))
        }
        guard !parser.hasPartialCommand else {
            return connection.close(encode(.untagged(.condition(.bye, text: "Pipelined data after COMPRESS."))))
        }
        _ = connection.startCompression(ready: encode(.ok(tag, nil, "DEFLATE active.")),
                                        refusal: encode(.untagged(.condition(.bye, text: "Pipelined data after COMPRESS."))),
                                        input: input)
    }

    /// Runs session work off the event loop, then continues reading in the mode it asks for.
    private func dispatch(_ connection: Connection<IMAPDriver>, _ work: @escaping @Sendable () async -> IMAPSession.Outcome) {
        connection.run(work) { driver, connection, outcome in
            driver.finished(outcome, connection)
        }
    }

    private func finished(_ outcome: IMAPSession.Outcome, _ connection: Connection<IMAPDriver>) {
        connection.write(outcome.output)
        if outcome.authenticated && !authenticated { connection.loggedIn() }
        authenticated = outcome.authenticated
        if authenticated && preLoginParser && !parser.hasPartialCommand {
            parser = IMAPCommandParser(configuration: configuration.parserConfiguration)
            preLoginParser = false
        }
        if outcome.bad {
            badCommands += 1
            if badCommands >= configuration.limits.maxBadCommands {
                return connection.close(encode(.untagged(.condition(.bye, text: "Too many invalid commands."))))
            }
        }
        switch outcome.next {
        case .commands: mode = .commands
        case .authenticationResponse: mode = .authenticationResponse
        case .idle: mode = .idle
        case .close: connection.close(nil)
        }
    }
}
