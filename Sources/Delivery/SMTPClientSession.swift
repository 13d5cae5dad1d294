import Foundation
import Logging
import MailCore
import NIOCore
import NIOSSL
import SMTPProtocol

/// The client side of one SMTP transaction, step by step (RFC 5321 §3.3, §4.3.2).
struct ClientSession {
    let envelope: SMTPClient.Envelope
    let configuration: SMTPClient.Configuration
    let serverName: String
    let logger: Logger
    private(set) var outcomes: [(recipient: String, outcome: SMTPClient.Outcome)] = []
    private(set) var usedTLS = false
    private(set) var transcript: [String] = []
    private var capabilities: [String] = []

    init(envelope: SMTPClient.Envelope, configuration: SMTPClient.Configuration, serverName: String, logger: Logger) {
        self.envelope = envelope
        self.configuration = configuration
        self.serverName = serverName
        self.logger = logger
    }

    /// Every recipient without an outcome yet fails temporarily (connection trouble).
    mutating func failRemaining(_ why: String) {
        for r in envelope.recipients where !outcomes.contains(where: { $0.recipient == r }) {
            outcomes.append((r, .temporary(why)))
        }
    }

    private mutating func failAll(_ reply: SMTPReply, during step: String) {
        let text = "\(step): \(reply)"
        for r in envelope.recipients where !outcomes.contains(where: { $0.recipient == r }) {
            outcomes.append((r, reply.isPermanentFailure ? .permanent(text) : .temporary(text)))
        }
    }

    private func has(_ keyword: String) -> Bool {
        capabilities.contains { $0.uppercased() == keyword || $0.uppercased().hasPrefix(keyword + " ") }
    }

    private func capabilityValue(_ keyword: String) -> String? {
        capabilities.first { $0.uppercased().hasPrefix(keyword + " ") }.map { String($0.dropFirst(keyword.count + 1)) }
    }

    private mutating func command(_ c: SMTPCommand, _ connection: inout Connection) async throws -> SMTPReply {
        guard let bytes = c.encoded else { throw SMTPEncodingError.controlCharacterInArgument(c.verb) }
        try await connection.send(bytes, within: configuration.commandTimeout, "sending \(c.verb)")
        let reply = try await connection.reply(within: configuration.commandTimeout, "waiting for the reply to \(c.verb)")
        transcript.append("\(c.verb) -> \(reply.code)")
        return reply
    }

    mutating func run(_ connection: inout Connection, tlsContext: @Sendable (Bool) throws -> NIOSSLContext) async throws {
        let greeting = try await connection.reply(within: configuration.commandTimeout, "waiting for the greeting")
        guard greeting.code == 220 else { return failAll(greeting, during: "greeting") }
        guard try await hello(&connection) else { return }

        switch configuration.tls {
        case .none:
            break
        case .opportunistic(let verify), .required(let verify):
            if has("STARTTLS") {
                let reply = try await command(.starttls, &connection)
                if reply.code == 220 {
                    guard try await secure(&connection, context: tlsContext(verify), verify: verify) else { return }
                } else if case .required = configuration.tls {
                    return failAll(reply, during: "STARTTLS")
                }
            } else if case .required = configuration.tls {
                return failRemaining("\(serverName) does not offer STARTTLS and TLS is required")
            }
        }

        if let credentials = configuration.credentials {
            guard usedTLS else { return failRemaining("not sending credentials to \(serverName) without TLS") }
            let plain = Array("\0\(credentials.user)\0\(credentials.password)".utf8)
            let reply = try await command(.auth(mechanism: "PLAIN", initialResponse: Data(plain).base64EncodedString()), &connection)
            guard reply.code == 235 else { return failAll(reply, during: "AUTH") }
        }

        if envelope.needsSMTPUTF8 && !has("SMTPUTF8") {
            // RFC 6531 §3.2: cannot downgrade an internationalised address.
            for r in envelope.recipients {
                outcomes.append((r, .permanent("5.6.7 \(serverName) does not support SMTPUTF8, which this message needs")))
            }
            return
        }
        if envelope.binary && !(has("BINARYMIME") && has("CHUNKING")) {
            // RFC 3030 §3: binary content must reach a peer that takes it unaltered; we do not
            // convert it, so it goes back to the sender.
            for r in envelope.recipients {
                outcomes.append((r, .permanent("5.6.3 \(serverName) does not accept BINARYMIME, which this message needs")))
            }
            return
        }
        if let limitText = capabilityValue("SIZE"), let limit = Int(limitText), limit > 0, envelope.message.count > limit {
            for r in envelope.recipients {
                outcomes.append((r, .permanent("5.3.4 message size \(envelope.message.count) exceeds \(serverName)'s limit \(limit)")))
            }
            return
        }
        try await transaction(&connection)
        _ = try? await command(.quit, &connection)
    }

    /// The TLS handshake after the server's 220 and EHLO again (RFC 3207 §4.2: forget what we
    /// knew). With `verify`, the certificate must chain to the trust roots and name the server
    /// (its IP address when `serverName` is one, which SNI cannot carry); a handshake that fails
    /// is a temporary failure that says so, and credentials are never sent. False when the
    /// transaction cannot go on.
    private mutating func secure(_ connection: inout Connection, context: NIOSSLContext, verify: Bool) async throws -> Bool {
        let hostname = verify && IPLiteral.canonical(serverName) == nil ? serverName : nil
        try await connection.startTLS(context: context, serverHostname: hostname)
        usedTLS = true
        do {
            return try await hello(&connection)
        } catch {
            let what = verify ? "TLS with \(serverName) not established or its certificate not verified" : "TLS with \(serverName) failed"
            failRemaining("4.7.5 \(what)\(configuration.credentials == nil ? "" : ", credentials not sent"): \(error)")
            return false
        }
    }

    /// EHLO, or HELO when EHLO is refused (RFC 5321 §4.1.4). False when the peer refuses both.
    private mutating func hello(_ connection: inout Connection) async throws -> Bool {
        let ehlo = try await command(.ehlo(configuration.heloName), &connection)
        if ehlo.code == 250 {
            capabilities = Array(ehlo.lines.dropFirst())
            return true
        }
        capabilities = []
        let helo = try await command(.helo(configuration.heloName), &connection)
        if helo.code == 250 { return true }
        failAll(helo, during: "HELO")
        return false
    }

    private mutating func transaction(_ connection: inout Connection) async throws {
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
        let commands: [SMTPCommand] = [.mail(reversePath: envelope.sender, parameters: mailParameters)]
            + envelope.recipients.map { .rcpt(forwardPath: $0, parameters: rcptParameters(for: $0)) }
        var replies: [SMTPReply] = []
        if has("PIPELINING") {
            // RFC 2920 §3.1: MAIL and all RCPTs in one write, replies read in order.
            var batch: [UInt8] = []
            for c in commands {
                guard let bytes = c.encoded else { throw SMTPEncodingError.controlCharacterInArgument(c.verb) }
                batch += bytes
            }
            try await connection.send(batch, within: configuration.commandTimeout, "sending MAIL and RCPT")
            for c in commands {
                let reply = try await connection.reply(within: configuration.commandTimeout, "waiting for the reply to \(c.verb)")
                transcript.append("\(c.verb) -> \(reply.code)")
                replies.append(reply)
            }
        } else {
            for c in commands {
                let reply = try await command(c, &connection)
                replies.append(reply)
                if c.verb == "MAIL" && reply.code != 250 { break }
            }
        }
        guard let mailReply = replies.first, mailReply.code == 250 else {
            return failAll(replies.first ?? SMTPReply(code: 451, "no reply to MAIL"), during: "MAIL FROM")
        }
        var accepted: [String] = []
        for (recipient, reply) in zip(envelope.recipients, replies.dropFirst()) {
            if reply.isPositiveCompletion {
                accepted.append(recipient)
            } else {
                outcomes.append((recipient, reply.isPermanentFailure ? .permanent("RCPT TO: \(reply)") : .temporary("RCPT TO: \(reply)")))
            }
        }
        guard !accepted.isEmpty else {
            _ = try? await command(.rset, &connection)
            return
        }
        let final: SMTPReply
        if has("CHUNKING") {
            // RFC 3030: the message as one binary-safe chunk, no dot-stuffing.
            try await connection.sendData((SMTPCommand.bdat(size: wire.count, last: true).encoded ?? []) + wire,
                                          perChunk: configuration.commandTimeout)
            final = try await connection.reply(within: configuration.dataTimeout, "waiting for the reply to BDAT LAST")
            transcript.append("BDAT -> \(final.code)")
        } else {
            let go = try await command(.data, &connection)
            guard go.code == 354 else {
                for r in accepted { outcomes.append((r, go.isPermanentFailure ? .permanent("DATA: \(go)") : .temporary("DATA: \(go)"))) }
                return
            }
            try await connection.sendData(try DataEncoder.stuff(wire), perChunk: configuration.commandTimeout)
            final = try await connection.reply(within: configuration.dataTimeout, "waiting for the reply to the end of data")
            transcript.append("DATA end -> \(final.code)")
        }
        for r in accepted {
            if final.isPositiveCompletion {
                outcomes.append((r, .delivered(final)))
            } else {
                outcomes.append((r, final.isPermanentFailure ? .permanent("end of data: \(final)") : .temporary("end of data: \(final)")))
            }
        }
    }

    /// RFC 3461 §5.2.1: NOTIFY and ORCPT go on to a peer that offers DSN.
    private func rcptParameters(for recipient: String) -> [ESMTPParameter] {
        guard has("DSN") else { return [] }
        var parameters: [ESMTPParameter] = []
        if let notify = envelope.notify[recipient] { parameters.append(ESMTPParameter(keyword: "NOTIFY", value: notify)) }
        if let orcpt = envelope.originalRecipients[recipient] { parameters.append(ESMTPParameter(keyword: "ORCPT", value: orcpt)) }
        return parameters
    }

    /// The message with every line ending as CRLF: a stored message may hold bare LF (BDAT
    /// input), which we never send on (DESIGN.md §4). Binary content goes as it is (BDAT only).
    private var wire: [UInt8] { envelope.binary ? envelope.message : SMTPWire.normalizedLineEndings(envelope.message) }
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
