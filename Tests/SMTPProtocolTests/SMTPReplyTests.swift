import SMTPProtocol
import Testing

@Suite("SMTP reply encoding")
struct SMTPReplyTests {
    struct EncodeCase: Sendable, CustomTestStringConvertible {
        var reply: SMTPReply
        var wire: String
        var testDescription: String { wire.debugDescription }
    }

    static let encodeCases: [EncodeCase] = [
        EncodeCase(reply: .ok, wire: "250 2.0.0 Ok\r\n"),
        EncodeCase(reply: SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), lines: ["first", "second", "third"]),
                   wire: "250-2.0.0 first\r\n250-2.0.0 second\r\n250 2.0.0 third\r\n"),
        EncodeCase(reply: .ehlo(hostname: "mx.example", greeting: "greets client", capabilities: ["PIPELINING", "SIZE 1000", "8BITMIME"]),
                   wire: "250-mx.example greets client\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"),
        EncodeCase(reply: .ehlo(hostname: "mx.example", capabilities: []), wire: "250 mx.example\r\n"),
        EncodeCase(reply: .helo(hostname: "mx.example"), wire: "250 mx.example\r\n"),
        EncodeCase(reply: .greeting(hostname: "mx.example"), wire: "220 mx.example ESMTP\r\n"),
        EncodeCase(reply: .greeting(hostname: "mx.example", text: "LMTP Swallow"), wire: "220 mx.example LMTP Swallow\r\n"),
        EncodeCase(reply: .authChallenge(""), wire: "334 \r\n"),
        EncodeCase(reply: .authChallenge("VXNlcm5hbWU6"), wire: "334 VXNlcm5hbWU6\r\n"),
        EncodeCase(reply: .startMailInput, wire: "354 End data with <CR><LF>.<CR><LF>\r\n"),
        EncodeCase(reply: SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), ""), wire: "250 2.0.0\r\n"),
        EncodeCase(reply: SMTPReply(code: 250, lines: []), wire: "250 \r\n"),
        // Control characters never reach the wire (no bare CR/LF, DESIGN.md §4).
        EncodeCase(reply: SMTPReply(code: 550, enhanced: EnhancedStatus(5, 1, 1), "bad\r\n250 injected"),
                   wire: "550 5.1.1 bad  250 injected\r\n"),
        EncodeCase(reply: SMTPReply(code: 550, "tab\tkept, nul\u{0} and del\u{7F} replaced"),
                   wire: "550 tab\tkept, nul  and del  replaced\r\n"),
        EncodeCase(reply: .queued(id: "4XyZ12"), wire: "250 2.0.0 Ok: queued as 4XyZ12\r\n"),
        EncodeCase(reply: .userUnknown("nobody@example.com"), wire: "550 5.1.1 <nobody@example.com>: User unknown\r\n"),
        EncodeCase(reply: .timeout(hostname: "mx.example"), wire: "421 4.4.2 mx.example Error: timeout exceeded\r\n"),
    ]

    @Test("encode", arguments: encodeCases)
    func encode(_ c: EncodeCase) {
        #expect(String(decoding: c.reply.encoded, as: UTF8.self) == c.wire)
        var buffer = bytes("prefix")
        c.reply.encode(into: &buffer)
        #expect(buffer == bytes("prefix" + c.wire))
    }

    struct StaticCase: Sendable, CustomTestStringConvertible {
        var name: String
        var reply: SMTPReply
        var code: Int
        var enhanced: String?
        var testDescription: String { name }
    }

    static let staticCases: [StaticCase] = [
        StaticCase(name: "ok", reply: .ok, code: 250, enhanced: "2.0.0"),
        StaticCase(name: "senderOk", reply: .senderOk, code: 250, enhanced: "2.1.0"),
        StaticCase(name: "recipientOk", reply: .recipientOk, code: 250, enhanced: "2.1.5"),
        StaticCase(name: "serviceClosing", reply: .serviceClosing, code: 221, enhanced: "2.0.0"),
        StaticCase(name: "startMailInput", reply: .startMailInput, code: 354, enhanced: nil),
        StaticCase(name: "notImplemented", reply: .notImplemented, code: 502, enhanced: "5.5.1"),
        StaticCase(name: "badSequence", reply: .badSequence, code: 503, enhanced: "5.5.1"),
        StaticCase(name: "authenticationRequired", reply: .authenticationRequired, code: 530, enhanced: "5.7.0"),
        StaticCase(name: "authenticationFailed", reply: .authenticationFailed, code: 535, enhanced: "5.7.8"),
        StaticCase(name: "encryptionRequired", reply: .encryptionRequired, code: 538, enhanced: "5.7.11"),
        StaticCase(name: "relayDenied", reply: .relayDenied, code: 554, enhanced: "5.7.1"),
        StaticCase(name: "userUnknown", reply: .userUnknown, code: 550, enhanced: "5.1.1"),
        StaticCase(name: "messageTooBig", reply: .messageTooBig, code: 552, enhanced: "5.3.4"),
        StaticCase(name: "tooManyRecipients", reply: .tooManyRecipients, code: 452, enhanced: "4.5.3"),
        StaticCase(name: "timeout", reply: .timeout(hostname: "h"), code: 421, enhanced: "4.4.2"),
        StaticCase(name: "localError", reply: .localError, code: 451, enhanced: "4.3.0"),
        StaticCase(name: "authChallenge", reply: .authChallenge("x"), code: 334, enhanced: nil),
        StaticCase(name: "authenticationSucceeded", reply: .authenticationSucceeded, code: 235, enhanced: "2.7.0"),
        StaticCase(name: "authenticationCancelled", reply: .authenticationCancelled, code: 501, enhanced: "5.7.0"),
        StaticCase(name: "invalidBase64", reply: .invalidBase64, code: 501, enhanced: "5.5.2"),
        StaticCase(name: "authLineTooLong", reply: .authLineTooLong, code: 500, enhanced: "5.5.6"),
        StaticCase(name: "readyToStartTLS", reply: .readyToStartTLS, code: 220, enhanced: "2.0.0"),
        StaticCase(name: "tlsNotAvailable", reply: .tlsNotAvailable, code: 454, enhanced: "4.7.0"),
        StaticCase(name: "startTLSRequired", reply: .startTLSRequired, code: 530, enhanced: "5.7.0"),
        StaticCase(name: "insufficientStorage", reply: .insufficientStorage, code: 452, enhanced: "4.3.1"),
        StaticCase(name: "cannotVerify", reply: .cannotVerify, code: 252, enhanced: "2.0.0"),
        StaticCase(name: "help", reply: .help(), code: 214, enhanced: "2.0.0"),
        StaticCase(name: "greeting", reply: .greeting(hostname: "h"), code: 220, enhanced: nil),
        StaticCase(name: "serviceNotAvailable", reply: .serviceNotAvailable(hostname: "h"), code: 421, enhanced: "4.3.2"),
        StaticCase(name: "tooManyErrors", reply: .tooManyErrors(hostname: "h"), code: 421, enhanced: "4.7.0"),
        StaticCase(name: "bare LF in DATA", reply: DataRejection.bareLineFeed.reply, code: 554, enhanced: "5.6.0"),
        StaticCase(name: "bare CR in DATA", reply: DataRejection.bareCarriageReturn.reply, code: 554, enhanced: "5.6.0"),
    ]

    @Test("common replies", arguments: staticCases)
    func common(_ c: StaticCase) {
        #expect(c.reply.code == c.code)
        #expect(c.reply.enhanced?.description == c.enhanced)
        // The enhanced class always matches the reply class (RFC 3463 §2).
        if let enhanced = c.reply.enhanced { #expect(enhanced.statusClass == c.code / 100) }
    }

    @Test("reply classes")
    func classes() {
        #expect(SMTPReply.ok.isPositiveCompletion)
        #expect(SMTPReply.startMailInput.isPositiveIntermediate)
        #expect(SMTPReply.localError.isTransientFailure)
        #expect(SMTPReply.relayDenied.isPermanentFailure)
        #expect(SMTPReply.relayDenied.description == "554 5.7.1 Relay access denied")
    }

    @Test("enhanced status parsing", arguments: [
        ("2.0.0", EnhancedStatus(2, 0, 0)), ("5.7.11", EnhancedStatus(5, 7, 11)), ("4.999.999", EnhancedStatus(4, 999, 999)),
        ("5.01.1", EnhancedStatus(5, 1, 1)),
    ])
    func enhancedValid(_ c: (String, EnhancedStatus)) {
        #expect(EnhancedStatus(c.0) == c.1)
    }

    @Test("enhanced status rejects", arguments: ["", "5", "5.1", "3.1.1", "5.1.1000", "5.1.1.1", "5..1", "x.1.1", "5.1.1 ",
                                                  "5.1.a"])
    func enhancedInvalid(_ text: String) {
        #expect(EnhancedStatus(text) == nil)
    }
}
