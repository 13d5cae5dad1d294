/// What a filter is told of the transaction it judges: the SMTP session, replayed at the end of
/// DATA as Postfix replays it to its non_smtpd_milters (connect, HELO, MAIL, each RCPT, DATA,
/// header, body, end of message).
/// The envelope is the scanners' (`t.helo` reads `t.envelope.helo`).
@dynamicMemberLookup
public struct MilterTransaction: Sendable {
    public var envelope: ScanEnvelope
    public var message: MilterMessage

    public init(envelope: ScanEnvelope = ScanEnvelope(), message: MilterMessage) {
        self.envelope = envelope
        self.message = message
    }

    public subscript<T>(dynamicMember keyPath: WritableKeyPath<ScanEnvelope, T>) -> T {
        get { envelope[keyPath: keyPath] }
        set { envelope[keyPath: keyPath] = newValue }
    }
}

/// How one filter's conversation ended.
public struct MilterOutcome: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        /// Go on with the message (SMFIR_ACCEPT or SMFIR_CONTINUE), with `modifications`.
        case accept
        /// Refuse the message with this reply (SMFIR_REJECT, SMFIR_TEMPFAIL, SMFIR_REPLYCODE).
        case refuse(MilterSMTPReply)
        /// Accept it and throw it away (SMFIR_DISCARD).
        case discard
    }

    public struct RefusedRecipient: Sendable, Equatable {
        public var address: String
        public var reply: MilterSMTPReply
    }

    public var decision: Decision
    /// Recipients refused at SMFIC_RCPT; the others go on.
    public var refusedRecipients: [RefusedRecipient] = []
    /// The SMFIC_BODYEOB answer's modifications, in the order they came.
    public var modifications: [MilterReply] = []
    /// The filter asked for SMFIP_HDR_LEADSPC: its header values carry their own leading space.
    public var headerLeadingSpace = false
}

/// The MTA side of one filter conversation for one message, as a value that takes the filter's
/// replies and returns what to send next (DESIGN.md §5.4); `MilterClient` does the I/O.
///
/// After SMFIC_OPTNEG, each step is sent with the macros of its stage, unless the filter asked
/// not to see it (SMFIP_NO*); when it asked not to answer it (SMFIP_NR_*), the next step follows
/// at once. SMFIC_BODYEOB is always answered: modifications, then the final reply.
public struct MilterConversation: Sendable {
    public enum Step: Sendable, Equatable {
        /// Send these commands (perhaps none), then read one reply and pass it to `receive`.
        case send([MilterCommand])
        /// Send these (SMFIC_ABORT, SMFIC_QUIT) and close: this is the result.
        case finish([MilterCommand], MilterOutcome)
    }

    /// The default replies (Postfix's wording and codes for SMFIR_REJECT and SMFIR_TEMPFAIL).
    public static let rejected = MilterSMTPReply(code: 550, enhanced: [5, 7, 1], lines: ["Message refused by a content filter"])
    public static let tempfailed = MilterSMTPReply(code: 451, enhanced: [4, 7, 1], lines: ["Service unavailable - try again later"])

    private enum Event: Equatable {
        case connect, helo, mail, recipient(Int), data, header(Int), endOfHeaders, body(Int), endOfMessage
    }

    public let transaction: MilterTransaction
    private var negotiated: MilterNegotiation?
    private var events: [Event] = []
    private var next = 0
    private var awaiting: Event?
    private var headers: [MilterCommand] = []
    private var refused: [MilterOutcome.RefusedRecipient] = []
    private var modifications: [MilterReply] = []
    private var modificationBytes = 0
    /// Bounds what one answer to SMFIC_BODYEOB may ask (a replaced body counts its size).
    public var maxModificationBytes = 64 << 20
    public var maxModifications = 10_000

    public init(_ transaction: MilterTransaction) { self.transaction = transaction }

    /// SMFIC_OPTNEG: version 6, every action, every option we support.
    public func start() -> Step {
        .send([.negotiate(MilterNegotiation(version: MilterNegotiation.version, actions: .all, options: .offered))])
    }

    /// The filter's next reply; a reply that does not fit the protocol throws (a failed filter).
    public mutating func receive(_ reply: MilterReply) throws(MilterProtocolError) -> Step {
        guard let negotiated else {
            guard case .negotiate(var n) = reply else { throw MilterProtocolError("expected SMFIC_OPTNEG, got \(MilterCodec.printable(reply.code))") }
            guard n.version >= 2 else { throw MilterProtocolError("protocol version \(n.version)") }
            // Only what we offered; a filter of an older version gets only the steps its version
            // knows (Postfix's MILTER8_V*_PROTO_MASK).
            n.actions.formIntersection(.all)
            n.options.formIntersection(.offered)
            if n.version < 6 { n.options.subtract([.skip, .headerLeadingSpace, .noReplyConnect, .noReplyHelo, .noReplyMail, .noReplyRecipient,
                                                   .noReplyData, .noReplyUnknown, .noReplyEndOfHeaders, .noReplyBody]) }
            if n.version < 4 { n.options.insert(.noData) }
            if !n.actions.contains(.setSymbolList) { n.macroLists = [:] }
            self.negotiated = n
            plan(n)
            return advance()
        }
        guard let awaiting else { throw MilterProtocolError("a reply nobody asked for") }
        if reply == .progress { return .send([]) }
        if awaiting == .endOfMessage {
            if let action = reply.requiredAction {
                guard negotiated.actions.contains(action) else {
                    throw MilterProtocolError("\(MilterCodec.printable(reply.code)) without having negotiated it")
                }
                modifications.append(reply)
                if case .replaceBody(let chunk) = reply { modificationBytes += chunk.count } else { modificationBytes += 64 }
                guard modifications.count <= maxModifications, modificationBytes <= maxModificationBytes else {
                    throw MilterProtocolError("too many modifications")
                }
                return .send([])
            }
            switch reply {
            case .accept, .continue: return finish([.quit], .accept)
            default: break
            }
        } else if reply.requiredAction != nil {
            // libmilter allows modifications only in xxfi_eom.
            throw MilterProtocolError("\(MilterCodec.printable(reply.code)) before the end of the message")
        }
        let early: [MilterCommand] = awaiting == .endOfMessage ? [.quit] : [.abort, .quit]
        switch reply {
        case .continue:
            return advance()
        case .skip:
            // SMFIR_SKIP: no more body chunks (offered with SMFIP_SKIP); before the body, as
            // CONTINUE; it cannot answer the end of the message.
            guard awaiting != .endOfMessage else { throw MilterProtocolError("SMFIR_SKIP at the end of the message") }
            if case .body = awaiting, let eom = events.firstIndex(of: .endOfMessage) { next = eom }
            return advance()
        case .accept:
            return finish(early, .accept)
        case .discard:
            return finish(early, .discard)
        case .reject, .tempfail, .replyCode:
            let r: MilterSMTPReply = if case .replyCode(let given) = reply { given } else if reply == .reject { Self.rejected } else { Self.tempfailed }
            if case .recipient(let n) = awaiting {
                // A refusal at RCPT refuses that recipient only.
                refused.append(MilterOutcome.RefusedRecipient(address: transaction.recipients[n], reply: r))
                return advance()
            }
            return finish(early, .refuse(r))
        case .shutdown, .connectionFailure:
            // Postfix answers 421 for these; the client retries later either way.
            return finish(early, .refuse(Self.tempfailed))
        case .negotiate:
            throw MilterProtocolError("SMFIC_OPTNEG again")
        default:
            throw MilterProtocolError("unexpected reply \(MilterCodec.printable(reply.code))")
        }
    }

    private mutating func finish(_ commands: [MilterCommand], _ decision: MilterOutcome.Decision) -> Step {
        awaiting = nil
        next = events.count
        return .finish(commands, MilterOutcome(decision: decision, refusedRecipients: refused,
                                               modifications: decision == .accept ? modifications : [],
                                               headerLeadingSpace: negotiated?.options.contains(.headerLeadingSpace) ?? false))
    }

    /// The steps the filter wants, in order.
    private mutating func plan(_ n: MilterNegotiation) {
        let o = n.options
        if !o.contains(.noConnect) { events.append(.connect) }
        if !o.contains(.noHelo) { events.append(.helo) }
        if !o.contains(.noMail) { events.append(.mail) }
        if !o.contains(.noRecipient) { events += transaction.recipients.indices.map { .recipient($0) } }
        if !o.contains(.noData) { events.append(.data) }
        if !o.contains(.noHeaders) {
            headers = transaction.message.headerCommands(leadingSpace: o.contains(.headerLeadingSpace))
            events += headers.indices.map { .header($0) }
        }
        if !o.contains(.noEndOfHeaders) { events.append(.endOfHeaders) }
        if !o.contains(.noBody) {
            let body = transaction.message.body
            events += stride(from: 0, to: body.count, by: MilterCodec.maxBodyChunk).map { .body($0) }
        }
        events.append(.endOfMessage)
    }

    /// The next steps up to and including one the filter answers.
    private mutating func advance() -> Step {
        var commands: [MilterCommand] = []
        while next < events.count {
            let event = events[next]
            next += 1
            if !transaction.recipients.isEmpty, refused.count == transaction.recipients.count, isAfterRecipients(event) {
                // Every recipient refused: the message gets the last refusal.
                awaiting = nil
                return finish(commands + [.abort, .quit], .refuse(refused.last!.reply))
            }
            commands += command(event)
            if expectsReply(event) {
                awaiting = event
                return .send(commands)
            }
        }
        // Not reached: SMFIC_BODYEOB is the last step, and always answered.
        return finish(commands + [.quit], .accept)
    }

    private func isAfterRecipients(_ event: Event) -> Bool {
        switch event {
        case .connect, .helo, .mail, .recipient: false
        default: true
        }
    }

    private func expectsReply(_ event: Event) -> Bool {
        let o = negotiated?.options ?? []
        switch event {
        case .connect: return !o.contains(.noReplyConnect)
        case .helo: return !o.contains(.noReplyHelo)
        case .mail: return !o.contains(.noReplyMail)
        case .recipient: return !o.contains(.noReplyRecipient)
        case .data: return !o.contains(.noReplyData)
        case .header: return !o.contains(.noReplyHeader)
        case .endOfHeaders: return !o.contains(.noReplyEndOfHeaders)
        case .body: return !o.contains(.noReplyBody)
        case .endOfMessage: return true
        }
    }

    /// An event's packets: its stage's macros (SMFIC_MACRO, naming the command they go with),
    /// then the command.
    private func command(_ event: Event) -> [MilterCommand] {
        let t = transaction
        let command: MilterCommand
        let stage: MilterMacroStage?
        switch event {
        case .connect:
            let address: MilterClientAddress = t.clientIP.isEmpty ? .unknown
                : t.clientIP.contains(":") ? .inet6(port: 0, address: t.clientIP) : .inet(port: 0, address: t.clientIP)
            // No reverse lookup is made: Postfix sends "unknown" then too.
            command = .connect(hostname: "unknown", address)
            stage = .connect
        case .helo:
            command = .helo(t.helo)
            stage = .helo
        case .mail:
            command = .mail(["<\(t.sender)>"])
            stage = .mail
        case .recipient(let n):
            command = .recipient(["<\(t.recipients[n])>"])
            stage = .recipient
        case .data:
            command = .data
            stage = .data
        case .header(let n):
            command = headers[n]
            stage = nil
        case .endOfHeaders:
            command = .endOfHeaders
            stage = .endOfHeaders
        case .body(let offset):
            let body = t.message.body
            command = .body(Array(body[offset..<min(offset + MilterCodec.maxBodyChunk, body.count)]))
            stage = nil
        case .endOfMessage:
            command = .endOfMessage
            stage = .endOfMessage
        }
        guard let stage else { return [command] }
        let macros = macros(stage, recipient: { if case .recipient(let n) = event { n } else { nil } }())
        return macros.isEmpty ? [command] : [.macros(for: command.code, macros), command]
    }

    /// Postfix's default milter_*_macros, limited to what we know: `j`, `{daemon_name}`,
    /// `{client_addr}` at connect; `{i}`, `{auth_type}`, `{auth_authen}`, `{mail_addr}` at MAIL; `{rcpt_addr}`
    /// at RCPT; `{i}` at DATA and end of message. A filter that sent macro lists
    /// (SMFIF_SETSYMLIST) gets the ones it named instead, as far as we know them.
    func macros(_ stage: MilterMacroStage, recipient: Int?) -> [MilterMacro] {
        let t = transaction
        // Keyed without braces: `i` and `{i}` name the same macro (libmilter's smfi_getsymval).
        var known: [String: String] = ["j": t.hostname, "daemon_name": t.daemonName, "client_addr": t.clientIP,
                                       "i": t.queueID, "mail_addr": t.sender]
        if let user = t.authenticatedUser { known["auth_authen"] = user }
        if let mechanism = t.authenticationMechanism { known["auth_type"] = mechanism }
        if let recipient { known["rcpt_addr"] = t.recipients[recipient] }
        let names: [String]
        if let list = negotiated?.macroLists[stage] {
            names = list.split(whereSeparator: { $0 == " " || $0 == "," }).map { name in
                String(name.hasPrefix("{") && name.hasSuffix("}") ? name.dropFirst().dropLast() : name[...])
            }
        } else {
            switch stage {
            case .connect: names = ["j", "daemon_name", "client_addr"]
            case .mail: names = ["i", "auth_type", "auth_authen", "mail_addr"]
            case .recipient: names = ["rcpt_addr"]
            case .data, .endOfMessage: names = ["i"]
            case .helo, .endOfHeaders: names = []
            }
        }
        // One-letter macros go by their letter (`j`, `i`), longer ones in braces, as Postfix sends them.
        return names.compactMap { name in known[name].map { MilterMacro(name.count == 1 ? name : "{\(name)}", $0) } }
    }
}
