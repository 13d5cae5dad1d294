import Foundation
import Logging
import MailCore
import NIOCore
import NIOSSL
import SMTPProtocol

/// The client side of one SMTP session (RFC 5321 §3.3, §4.3.2): `open` (greeting, EHLO,
/// STARTTLS, AUTH) once, then any number of `transaction`s on the same connection.
struct ClientSession {
    let configuration: SMTPClient.Configuration
    let serverName: String
    let logger: Logger
    private(set) var usedTLS = false
    private(set) var transcript: [String] = []
    private var capabilities: [String] = []
    /// Transactions run on this session so far: every one after the first starts with RSET.
    private(set) var transactions = 0

    init(configuration: SMTPClient.Configuration, serverName: String, logger: Logger) {
        self.configuration = configuration
        self.serverName = serverName
        self.logger = logger
    }

    /// Why a session could not be opened: the outcome for every recipient, and whether a peer
    /// answered at all (for the scheduler's feedback).
    struct OpenFailure: Error {
        var outcome: SMTPClient.Outcome
        var reachedPeer: Bool
    }

    private func has(_ keyword: String) -> Bool {
        capabilities.contains { $0.uppercased() == keyword || $0.uppercased().hasPrefix(keyword + " ") }
    }

    private func capabilityValue(_ keyword: String) -> String? {
        capabilities.first { $0.uppercased().hasPrefix(keyword + " ") }.map { String($0.dropFirst(keyword.count + 1)) }
    }

    private static func outcome(_ reply: SMTPReply, _ step: String) -> SMTPClient.Outcome {
        reply.isPermanentFailure ? .permanent("\(step): \(reply)") : .temporary("\(step): \(reply)")
    }

    private mutating func command(_ c: SMTPCommand, _ connection: inout Connection) async throws -> SMTPReply {
        guard let bytes = c.encoded else { throw SMTPEncodingError.controlCharacterInArgument(c.verb) }
        try await connection.send(bytes, within: configuration.commandTimeout, "sending \(c.verb)")
        let reply = try await connection.reply(within: configuration.commandTimeout, "waiting for the reply to \(c.verb)")
        transcript.append("\(c.verb) -> \(reply.code)")
        return reply
    }

    /// Greeting, EHLO, STARTTLS per policy, AUTH when configured. Throws `OpenFailure` when the
    /// session cannot carry mail, or the connection's own error.
    mutating func open(_ connection: inout Connection, tlsContext: @Sendable (Bool) throws -> NIOSSLContext) async throws {
        let greeting = try await connection.reply(within: configuration.commandTimeout, "waiting for the greeting")
        guard greeting.code == 220 else { throw OpenFailure(outcome: Self.outcome(greeting, "greeting"), reachedPeer: false) }
        try await hello(&connection)

        switch configuration.tls {
        case .none:
            break
        case .opportunistic(let verify), .required(let verify):
            if has("STARTTLS") {
                let reply = try await command(.starttls, &connection)
                if reply.code == 220 {
                    try await secure(&connection, context: tlsContext(verify), verify: verify)
                } else if case .required = configuration.tls {
                    throw OpenFailure(outcome: Self.outcome(reply, "STARTTLS"), reachedPeer: true)
                }
            } else if case .required = configuration.tls {
                throw OpenFailure(outcome: .temporary("\(serverName) does not offer STARTTLS and TLS is required"), reachedPeer: true)
            }
        }

        if let credentials = configuration.credentials {
            guard usedTLS else {
                throw OpenFailure(outcome: .temporary("not sending credentials to \(serverName) without TLS"), reachedPeer: true)
            }
            let plain = Array("\0\(credentials.user)\0\(credentials.password)".utf8)
            let reply = try await command(.auth(mechanism: "PLAIN", initialResponse: Data(plain).base64EncodedString()), &connection)
            guard reply.code == 235 else { throw OpenFailure(outcome: Self.outcome(reply, "AUTH"), reachedPeer: true) }
        }
    }

    /// The TLS handshake after the server's 220 and EHLO again (RFC 3207 §4.2: forget what we
    /// knew). With `verify`, the certificate must chain to the trust roots and name the server
    /// (its IP address when `serverName` is one, which SNI cannot carry); a handshake that fails
    /// is a temporary failure that says so, and credentials are never sent.
    private mutating func secure(_ connection: inout Connection, context: NIOSSLContext, verify: Bool) async throws {
        let hostname = verify && IPLiteral.canonical(serverName) == nil ? serverName : nil
        try await connection.startTLS(context: context, serverHostname: hostname)
        usedTLS = true
        do {
            try await hello(&connection)
        } catch let failure as OpenFailure {
            throw failure
        } catch {
            let what = verify ? "TLS with \(serverName) not established or its certificate not verified" : "TLS with \(serverName) failed"
            throw OpenFailure(outcome: .temporary("4.7.5 \(what)\(configuration.credentials == nil ? "" : ", credentials not sent"): \(error)"),
                              reachedPeer: true)
        }
    }

    /// EHLO, or HELO when EHLO is refused (RFC 5321 §4.1.4).
    private mutating func hello(_ connection: inout Connection) async throws {
        let ehlo = try await command(.ehlo(configuration.heloName), &connection)
        if ehlo.code == 250 {
            capabilities = Array(ehlo.lines.dropFirst())
            return
        }
        capabilities = []
        let helo = try await command(.helo(configuration.heloName), &connection)
        guard helo.code == 250 else { throw OpenFailure(outcome: Self.outcome(helo, "HELO"), reachedPeer: true) }
    }

    /// RFC 5321 §4.1.1.10: said when we are done with the session.
    mutating func quit(_ connection: inout Connection) async {
        _ = try? await command(.quit, &connection)
    }

    /// What one transaction did.
    struct TransactionResult {
        var outcomes: [(recipient: String, outcome: SMTPClient.Outcome)] = []
        /// The session may carry another transaction.
        var usable = true
        /// A reused connection was found closed before the peer answered anything of this
        /// transaction: nothing was delivered, and the caller retries on a new connection.
        var stale = false
        /// Refused with 452 while others were accepted: the peer's per-transaction limit (RFC
        /// 5321 §4.5.3.1.10); they go in the next transaction.
        var retryNextTransaction: Set<String> = []
    }

    /// One mail transaction. Connection trouble becomes a temporary outcome for the recipients
    /// still without one, and an unusable session.
    mutating func transaction(_ envelope: SMTPClient.Envelope, _ connection: inout Connection, hostDescription: String) async
        -> TransactionResult {
        var result = TransactionResult()
        if let refusal = refusal(for: envelope) {
            result.outcomes = envelope.recipients.map { ($0, refusal) }
            return result
        }
        let reset = transactions > 0
        transactions += 1
        var answered = false
        do {
            try await run(envelope, &connection, reset: reset, answered: &answered, into: &result)
        } catch {
            if reset && !answered {
                result.stale = true
            }
            let why = "\(hostDescription): \(error)"
            for r in envelope.recipients where !result.outcomes.contains(where: { $0.recipient == r }) {
                result.outcomes.append((r, .temporary(why)))
            }
            result.usable = false
        }
        return result
    }

    /// What this peer cannot take, before any command is sent.
    private func refusal(for envelope: SMTPClient.Envelope) -> SMTPClient.Outcome? {
        if envelope.needsSMTPUTF8 && !has("SMTPUTF8") {
            // RFC 6531 §3.2: cannot downgrade an internationalised address.
            return .permanent("5.6.7 \(serverName) does not support SMTPUTF8, which this message needs")
        }
        if envelope.binary && !(has("BINARYMIME") && has("CHUNKING")) {
            // RFC 3030 §3: binary content must reach a peer that takes it unaltered; we do not
            // convert it, so it goes back to the sender.
            return .permanent("5.6.3 \(serverName) does not accept BINARYMIME, which this message needs")
        }
        if let limitText = capabilityValue("SIZE"), let limit = Int(limitText), limit > 0, envelope.message.count > limit {
            return .permanent("5.3.4 message size \(envelope.message.count) exceeds \(serverName)'s limit \(limit)")
        }
        return nil
    }

    private mutating func run(_ envelope: SMTPClient.Envelope, _ connection: inout Connection, reset: Bool,
                              answered: inout Bool, into result: inout TransactionResult) async throws {
        var mailParameters: [ESMTPParameter] = []
        if has("SIZE") { mailParameters.append(ESMTPParameter(keyword: "SIZE", value: String(envelope.message.count))) }
        if envelope.binary {
            mailParameters.append(ESMTPParameter(keyword: "BODY", value: "BINARYMIME"))
        } else if envelope.eightBit && has("8BITMIME") {
            mailParameters.append(ESMTPParameter(keyword: "BODY", value: "8BITMIME"))
        }
        if envelope.needsSMTPUTF8 { mailParameters.append(ESMTPParameter(keyword: "SMTPUTF8")) }
        if has("DSN") {
            if let id = envelope.envelopeID { mailParameters.append(ESMTPParameter(keyword: "ENVID", value: XText.encode(id))) }
            // RET only when the submitter asked for the whole message; otherwise the default.
            if envelope.returnFull { mailParameters.append(ESMTPParameter(keyword: "RET", value: "FULL")) }
        }
        // A reused session starts with RSET (RFC 5321 §4.1.1.5), which also shows that the peer
        // still holds the connection; RFC 2920 §3.1 lets it lead a pipelined group.
        let commands: [SMTPCommand] = (reset ? [.rset] : []) + [.mail(reversePath: envelope.sender, parameters: mailParameters)]
            + envelope.recipients.map { .rcpt(forwardPath: $0, parameters: rcptParameters(for: $0, envelope)) }
        var replies: [SMTPReply] = []
        // The peer no longer wants a reused session when it refuses RSET (often 421 after its
        // idle timeout): nothing of this transaction happened; the caller uses a new session.
        func refusedReset(_ reply: SMTPReply) {
            result.usable = false
            result.stale = true
            result.outcomes = envelope.recipients.map { ($0, Self.outcome(reply, "RSET")) }
        }
        if has("PIPELINING") {
            // RFC 2920 §3.1: RSET, MAIL and all RCPTs in one write, replies read in order.
            var batch: [UInt8] = []
            for c in commands {
                guard let bytes = c.encoded else { throw SMTPEncodingError.controlCharacterInArgument(c.verb) }
                batch += bytes
            }
            try await connection.send(batch, within: configuration.commandTimeout, "sending MAIL and RCPT")
            for c in commands {
                let reply = try await connection.reply(within: configuration.commandTimeout, "waiting for the reply to \(c.verb)")
                transcript.append("\(c.verb) -> \(reply.code)")
                if case .rset = c {
                    guard reply.code == 250 else { return refusedReset(reply) }
                    continue
                }
                answered = true
                replies.append(reply)
            }
        } else {
            for c in commands {
                let reply = try await command(c, &connection)
                if case .rset = c {
                    guard reply.code == 250 else { return refusedReset(reply) }
                    continue
                }
                answered = true
                replies.append(reply)
                if c.verb == "MAIL" && reply.code != 250 { break }
            }
        }
        guard let mailReply = replies.first, mailReply.code == 250 else {
            let reply = replies.first ?? SMTPReply(code: 451, "no reply to MAIL")
            result.outcomes = envelope.recipients.map { ($0, Self.outcome(reply, "MAIL FROM")) }
            return
        }
        var accepted: [String] = []
        for (recipient, reply) in zip(envelope.recipients, replies.dropFirst()) {
            if reply.isPositiveCompletion {
                accepted.append(recipient)
            } else {
                result.outcomes.append((recipient, Self.outcome(reply, "RCPT TO")))
            }
        }
        guard !accepted.isEmpty else {
            // Close the transaction now (RFC 5321 §4.1.1.5), not at the next one or at QUIT.
            _ = try await command(.rset, &connection)
            return
        }
        for (recipient, reply) in zip(envelope.recipients, replies.dropFirst()) where reply.code == 452 {
            result.retryNextTransaction.insert(recipient)
        }
        let final: SMTPReply
        let wire = Self.wire(envelope)
        if has("CHUNKING") {
            // RFC 3030: the message as one binary-safe chunk, no dot-stuffing.
            try await connection.sendData((SMTPCommand.bdat(size: wire.count, last: true).encoded ?? []) + wire,
                                          perChunk: configuration.commandTimeout)
            final = try await connection.reply(within: configuration.dataTimeout, "waiting for the reply to BDAT LAST")
            transcript.append("BDAT -> \(final.code)")
        } else {
            let go = try await command(.data, &connection)
            guard go.code == 354 else {
                for r in accepted { result.outcomes.append((r, Self.outcome(go, "DATA"))) }
                return
            }
            try await connection.sendData(try DataEncoder.stuff(wire), perChunk: configuration.commandTimeout)
            final = try await connection.reply(within: configuration.dataTimeout, "waiting for the reply to the end of data")
            transcript.append("DATA end -> \(final.code)")
        }
        for r in accepted {
            result.outcomes.append((r, final.isPositiveCompletion ? .delivered(final) : Self.outcome(final, "end of data")))
        }
    }

    /// RFC 3461 §5.2.1: NOTIFY and ORCPT go on to a peer that offers DSN.
    private func rcptParameters(for recipient: String, _ envelope: SMTPClient.Envelope) -> [ESMTPParameter] {
        guard has("DSN") else { return [] }
        var parameters: [ESMTPParameter] = []
        if let notify = envelope.notify[recipient] { parameters.append(ESMTPParameter(keyword: "NOTIFY", value: notify)) }
        if let orcpt = envelope.originalRecipients[recipient] { parameters.append(ESMTPParameter(keyword: "ORCPT", value: orcpt)) }
        return parameters
    }

    /// The message with every line ending as CRLF: a stored message may hold bare LF (BDAT
    /// input), which we never send on (DESIGN.md §4). Binary content goes as it is (BDAT only).
    private static func wire(_ envelope: SMTPClient.Envelope) -> [UInt8] {
        envelope.binary ? envelope.message : SMTPWire.normalizedLineEndings(envelope.message)
    }
}

enum SMTPWire {
    /// Bare CR and bare LF become CRLF.
    static func normalizedLineEndings(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 50)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 13 {
                out.append(13); out.append(10)
                if i + 1 < bytes.count && bytes[i + 1] == 10 { i += 1 }
            } else if b == 10 {
                out.append(13); out.append(10)
            } else {
                out.append(b)
            }
            i += 1
        }
        return out
    }
}
