import Testing
@testable import Filters

/// The MTA side of a milter conversation, driven with scripted replies: what is sent when, the
/// "no reply" options, refusals at each stage, SKIP, and what counts as a broken filter.
@Suite("milter conversation")
struct MilterConversationTests {
    static let message = Array(("Received: from client by mx\r\n\tfor <b@example.test>\r\n"
        + "From: a@example.test\r\nSubject: hi\r\n there\r\n\r\nbody line\r\n").utf8)

    static func transaction(recipients: [String] = ["b@example.test", "c@example.test"], body: Int? = nil) -> MilterTransaction {
        var bytes = message
        if let body { bytes = Array("Subject: big\r\n\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: body) }
        var t = MilterTransaction(message: MilterMessage(bytes, hiddenFields: body == nil ? 1 : 0))
        t.clientIP = "192.0.2.7"
        t.helo = "client.example.test"
        t.sender = "a@example.test"
        t.recipients = recipients
        t.queueID = "Q123"
        t.authenticatedUser = "a@example.test"
        t.authenticationMechanism = "SCRAM-SHA-256"
        t.hostname = "mx.example.test"
        t.daemonName = "submission"
        return t
    }

    static func negotiate(_ options: MilterProtocolOptions = [], actions: MilterActions = .all, version: UInt32 = 6,
                          lists: [MilterMacroStage: String] = [:]) -> MilterReply {
        .negotiate(MilterNegotiation(version: version, actions: actions, options: options, macroLists: lists))
    }

    static func commands(_ step: MilterConversation.Step) -> [MilterCommand] {
        switch step {
        case .send(let c): c
        case .finish(let c, _): c
        }
    }

    /// Answers every step with CONTINUE, collecting what was sent, until the end of message.
    static func runToEndOfMessage(_ c: inout MilterConversation, _ first: MilterReply) throws -> [MilterCommand] {
        var sent = commands(c.start())
        var step = try c.receive(first)
        while case .send(let commands) = step {
            sent += commands
            if commands.last == .endOfMessage { break }
            step = try c.receive(.continue)
        }
        return sent
    }

    /// The whole transaction replayed, each stage with its macros, our Received: field hidden,
    /// header values as Sendmail sends them (LF between lines, no leading space).
    @Test func fullReplay() throws {
        var c = MilterConversation(Self.transaction())
        let sent = try Self.runToEndOfMessage(&c, Self.negotiate())
        let C = UInt8(ascii: "C"), M = UInt8(ascii: "M"), R = UInt8(ascii: "R"), T = UInt8(ascii: "T"), E = UInt8(ascii: "E")
        #expect(sent == [
            .negotiate(MilterNegotiation(version: 6, actions: .all, options: .offered)),
            .macros(for: C, [MilterMacro("j", "mx.example.test"), MilterMacro("{daemon_name}", "submission"),
                             MilterMacro("{client_addr}", "192.0.2.7")]),
            .connect(hostname: "unknown", .inet(port: 0, address: "192.0.2.7")),
            .helo("client.example.test"),
            .macros(for: M, [MilterMacro("i", "Q123"), MilterMacro("{auth_type}", "SCRAM-SHA-256"), MilterMacro("{auth_authen}", "a@example.test"), MilterMacro("{mail_addr}", "a@example.test")]),
            .mail(["<a@example.test>"]),
            .macros(for: R, [MilterMacro("{rcpt_addr}", "b@example.test")]),
            .recipient(["<b@example.test>"]),
            .macros(for: R, [MilterMacro("{rcpt_addr}", "c@example.test")]),
            .recipient(["<c@example.test>"]),
            .macros(for: T, [MilterMacro("i", "Q123")]),
            .data,
            .header(name: "From", value: Array("a@example.test".utf8)),
            .header(name: "Subject", value: Array("hi\n there".utf8)),
            .endOfHeaders,
            .body(Array("body line\r\n".utf8)),
            .macros(for: E, [MilterMacro("i", "Q123")]),
            .endOfMessage,
        ])
        #expect(try c.receive(.progress) == .send([]), "PROGRESS: keep waiting")
        #expect(try c.receive(.addHeader(name: "X-Scanned", value: Array("yes".utf8))) == .send([]))
        #expect(try c.receive(.quarantine(reason: "odd")) == .send([]))
        guard case .finish(let last, let outcome) = try c.receive(.accept) else { Issue.record("not finished"); return }
        #expect(last == [.quit])
        #expect(outcome == MilterOutcome(decision: .accept, modifications: [.addHeader(name: "X-Scanned", value: Array("yes".utf8)),
                                                                              .quarantine(reason: "odd")]))
    }

    /// SMFIP_NR_*: unanswered steps go out together, up to one that is answered; SMFIP_NO*:
    /// steps left out, with their macros.
    @Test func noReplyAndNoSendOptions() throws {
        var c = MilterConversation(Self.transaction())
        _ = c.start()
        let step = try c.receive(Self.negotiate([.noReplyConnect, .noHelo, .noReplyMail, .noReplyRecipient, .noData, .noReplyHeader,
                                                 .noEndOfHeaders, .noBody]))
        guard case .send(let batch) = step else { Issue.record("\(step)"); return }
        #expect(batch.map(\.code) == Array("DCDMDRDRLLDE".utf8), "every step up to the end of message, which is answered")
        #expect(try c.receive(.continue) == .finish([.quit], MilterOutcome(decision: .accept)))
    }

    /// SMFIP_HDR_LEADSPC: values keep their leading space.
    @Test func leadingSpace() throws {
        var c = MilterConversation(Self.transaction())
        let sent = try Self.runToEndOfMessage(&c, Self.negotiate([.headerLeadingSpace]))
        #expect(sent.contains(.header(name: "Subject", value: Array(" hi\n there".utf8))))
    }

    /// A refusal at RCPT drops that recipient; when none is left, the message gets the last one.
    @Test func recipientRefusals() throws {
        var c = MilterConversation(Self.transaction())
        _ = c.start()
        _ = try c.receive(Self.negotiate([.noConnect, .noHelo, .noMail]))
        let custom = MilterSMTPReply(code: 550, enhanced: [5, 1, 1], lines: ["no such user here"])
        #expect(Self.commands(try c.receive(.replyCode(custom))).last == .recipient(["<c@example.test>"]))
        #expect(Self.commands(try c.receive(.continue)).last == .data)
        _ = try Self.finishAccepting(&c)

        var both = MilterConversation(Self.transaction())
        _ = both.start()
        _ = try both.receive(Self.negotiate([.noConnect, .noHelo, .noMail]))
        _ = try both.receive(.replyCode(custom))
        let step = try both.receive(.tempfail)
        let expected = MilterOutcome(decision: .refuse(MilterConversation.tempfailed), refusedRecipients: [
            .init(address: "b@example.test", reply: custom), .init(address: "c@example.test", reply: MilterConversation.tempfailed),
        ])
        #expect(step == .finish([.abort, .quit], expected))
    }

    static func finishAccepting(_ c: inout MilterConversation) throws -> MilterOutcome {
        while true {
            switch try c.receive(.continue) {
            case .send: continue
            case .finish(_, let outcome): return outcome
            }
        }
    }

    /// REJECT, TEMPFAIL, DISCARD and ACCEPT before the end of the message end the conversation.
    @Test(arguments: [
        (MilterReply.reject, MilterOutcome.Decision.refuse(MilterConversation.rejected)),
        (.tempfail, .refuse(MilterConversation.tempfailed)),
        (.replyCode(MilterSMTPReply(code: 421, enhanced: [4, 3, 2], lines: ["busy"])), .refuse(MilterSMTPReply(code: 421, enhanced: [4, 3, 2], lines: ["busy"]))),
        (.discard, .discard),
        (.accept, .accept),
        (.shutdown, .refuse(MilterConversation.tempfailed)),
    ])
    func earlyEnds(_ reply: MilterReply, _ decision: MilterOutcome.Decision) throws {
        var c = MilterConversation(Self.transaction())
        _ = c.start()
        _ = try c.receive(Self.negotiate())
        #expect(try c.receive(reply) == .finish([.abort, .quit], MilterOutcome(decision: decision)), "at CONNECT")
    }

    /// SMFIR_SKIP after a body chunk: straight to the end of message.
    @Test func skipRestOfBody() throws {
        var c = MilterConversation(Self.transaction(body: 3 * MilterCodec.maxBodyChunk))
        _ = c.start()
        guard case .send(let first) = try c.receive(Self.negotiate([.noConnect, .noHelo, .noMail, .noRecipient, .noData, .noHeaders, .noEndOfHeaders])),
              case .body(let chunk) = first.last else { Issue.record("no body chunk first"); return }
        #expect(chunk.count == MilterCodec.maxBodyChunk, "chunks of at most 65535 octets")
        #expect(Self.commands(try c.receive(.skip)).last == .endOfMessage)
    }

    @Test func bodyChunking() throws {
        var c = MilterConversation(Self.transaction(body: MilterCodec.maxBodyChunk + 1))
        let sent = try Self.runToEndOfMessage(&c, Self.negotiate([.noHeaders]))
        let chunks = sent.compactMap { if case .body(let b) = $0 { b.count } else { nil } }
        #expect(chunks == [MilterCodec.maxBodyChunk, 1])
    }

    /// SMFIF_SETSYMLIST: the macros the filter named, whichever stage we would have sent them at.
    @Test func requestedMacros() throws {
        var c = MilterConversation(Self.transaction())
        _ = c.start()
        let step = try c.receive(Self.negotiate([.noReplyConnect], lists: [.connect: "{i} {auth_authen} {unknown_macro}", .helo: "j"]))
        #expect(Self.commands(step).prefix(4) == [
            .macros(for: UInt8(ascii: "C"), [MilterMacro("i", "Q123"), MilterMacro("{auth_authen}", "a@example.test")]),
            .connect(hostname: "unknown", .inet(port: 0, address: "192.0.2.7")),
            .macros(for: UInt8(ascii: "H"), [MilterMacro("j", "mx.example.test")]),
            .helo("client.example.test"),
        ])
    }

    /// A version 2 filter gets no DATA step and never skips replies it cannot know of.
    @Test func olderVersion() throws {
        var c = MilterConversation(Self.transaction())
        _ = c.start()
        let step = try c.receive(Self.negotiate([.noReplyConnect, .noHelo, .noMail, .noRecipient, .noHeaders, .noEndOfHeaders], version: 2))
        #expect(Self.commands(step).last == .connect(hostname: "unknown", .inet(port: 0, address: "192.0.2.7")), "SMFIP_NR_CONN is version 6")
        let rest = Self.commands(try c.receive(.continue))
        #expect(rest.last == .body(Array("body line\r\n".utf8)), "no DATA step for version 2")
        var old = MilterConversation(Self.transaction())
        _ = old.start()
        #expect(throws: MilterProtocolError.self) { try old.receive(Self.negotiate(version: 1)) }
    }

    /// What a well-behaved filter never does is a failure.
    @Test func protocolViolations() throws {
        var c = MilterConversation(Self.transaction())
        _ = c.start()
        #expect(throws: MilterProtocolError.self, "anything but OPTNEG first") { try c.receive(.continue) }

        var early = MilterConversation(Self.transaction())
        _ = early.start()
        _ = try early.receive(Self.negotiate())
        #expect(throws: MilterProtocolError.self, "a modification before the end") {
            try early.receive(.addHeader(name: "X", value: []))
        }

        var unasked = MilterConversation(Self.transaction())
        _ = try Self.runToEndOfMessage(&unasked, Self.negotiate(actions: [.addHeaders]))
        #expect(throws: MilterProtocolError.self, "a modification not negotiated") {
            try unasked.receive(.replaceBody([]))
        }

        var skipAtEnd = MilterConversation(Self.transaction())
        _ = try Self.runToEndOfMessage(&skipAtEnd, Self.negotiate())
        #expect(throws: MilterProtocolError.self, "SKIP answers body chunks only") { try skipAtEnd.receive(.skip) }

        var twice = MilterConversation(Self.transaction())
        _ = twice.start()
        _ = try twice.receive(Self.negotiate())
        #expect(throws: MilterProtocolError.self) { try twice.receive(Self.negotiate()) }

        var flood = MilterConversation(Self.transaction())
        flood.maxModificationBytes = 100
        _ = try Self.runToEndOfMessage(&flood, Self.negotiate())
        #expect(throws: MilterProtocolError.self, "a replaced body past the bound") {
            try flood.receive(.replaceBody([UInt8](repeating: 0x41, count: 101)))
        }
    }
}
