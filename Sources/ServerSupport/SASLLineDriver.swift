import LineFraming
import MailAuth
import NIOCore

/// What the line protocols (SMTP, LMTP, POP3) share about authentication: the client answers a
/// challenge with a base64 line (RFC 4954 §4, RFC 5034 §4), or `*` to cancel, and each step of
/// the exchange (lookups, the password check) runs off the event loop. A driver supplies its
/// wording; the reading and the stepping are here.
public protocol SASLLineDriver: ConnectionDriver {
    associatedtype Grammar: LineGrammar
    var parser: LineCommandParser<Grammar> { get set }
    /// The exchange waiting for the client's next line, if any.
    var pendingSASL: SASLExchange? { get set }
    /// The protocol's challenge line for these (decoded) challenge bytes: `334 …`, `+ …`.
    func challengeLine(_ challenge: [UInt8]) -> [UInt8]
    /// The exchange is over (anything but a challenge), or the client cancelled.
    func finishAuthentication(_ step: SASLExchange.Step, _ connection: Connection<Self>)
    /// The client's line was refused (bad base64, too long): the exchange has failed.
    func refuseSASLLine(_ reply: Grammar.Reply, _ connection: Connection<Self>)
}

extension SASLLineDriver {
    /// Reads the client's answer to the pending challenge.
    public func receiveSASLResponse(_ input: inout ByteBuffer, _ connection: Connection<Self>) -> InputProgress {
        guard var exchange = pendingSASL else { return .handled }
        let (result, consumed) = input.withUnsafeReadableBytes { parser.parseAuthResponse($0) }
        input.moveReaderIndex(forwardBy: consumed)
        if case .needMoreBytes = result { return .needMoreBytes }
        pendingSASL = nil
        switch result {
        case .needMoreBytes: break
        case .cancel: finishAuthentication(exchange.cancel(), connection)
        case .error(let reply): refuseSASLLine(reply, connection)
        case .response(let bytes): runSASL(exchange, .respond(bytes), connection)
        }
        return .handled
    }

    /// Runs one step of the exchange off the event loop; the exchange is a value that travels
    /// with the work and comes back with its new state.
    public func runSASL(_ exchange: SASLExchange, _ input: SASLExchange.Input, _ connection: Connection<Self>) {
        connection.run(cancellable: true, { await SASLExchange.advance(exchange, input) }, then: { driver, connection, result in
            let (step, exchange) = result
            if case .challenge(let bytes) = step {
                driver.pendingSASL = exchange
                connection.write(driver.challengeLine(bytes))
            } else {
                driver.finishAuthentication(step, connection)
            }
        })
    }
}
