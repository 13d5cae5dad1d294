import SMTPProtocol
import Testing

/// Feeds a reply parser in chunks; collects results up to and including the first error.
func runReplyParser(_ input: [UInt8], chunking: Chunking, configuration: SMTPReplyParser.Configuration = .init())
    -> (results: [SMTPReplyParser.ParseResult], leftover: [UInt8], maxBuffered: Int)
{
    var parser = SMTPReplyParser(configuration: configuration)
    var buffer: [UInt8] = []
    var results: [SMTPReplyParser.ParseResult] = []
    var maxBuffered = 0
    outer: for chunk in chunking.split(input) {
        buffer.append(contentsOf: chunk)
        while true {
            let (result, consumed) = parser.parse(buffer[...])
            precondition(consumed >= 0 && consumed <= buffer.count)
            buffer.removeFirst(consumed)
            maxBuffered = max(maxBuffered, buffer.count)
            if result == .needMoreBytes { break }
            results.append(result)
            if case .error = result { break outer }
        }
    }
    return (results, buffer, maxBuffered)
}

@Suite("SMTP reply parser")
struct SMTPReplyParserTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var input: String
        var expected: [SMTPReplyParser.ParseResult]
        var leftover = ""
        var testDescription: String { input.debugDescription }
    }

    static let cases: [Case] = [
        Case(input: "250 Ok\r\n", expected: [.reply(SMTPReply(code: 250, "Ok"))]),
        Case(input: "250 2.0.0 Ok\r\n", expected: [.reply(.ok)]),
        Case(input: "220 mx.example ESMTP Postfix\r\n", expected: [.reply(SMTPReply(code: 220, "mx.example ESMTP Postfix"))]),
        Case(input: "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n",
             expected: [.reply(SMTPReply(code: 250, lines: ["mx.example", "PIPELINING", "SIZE 10240000",
                                                            "ENHANCEDSTATUSCODES", "8BITMIME"]))]),
        Case(input: "250-2.1.0 first\r\n250 2.1.0 second\r\n",
             expected: [.reply(SMTPReply(code: 250, enhanced: EnhancedStatus(2, 1, 0), lines: ["first", "second"]))]),
        Case(input: "550-5.1.1 first\r\n550 second without code\r\n",
             expected: [.reply(SMTPReply(code: 550, enhanced: EnhancedStatus(5, 1, 1), lines: ["first", "second without code"]))]),
        Case(input: "250\r\n", expected: [.reply(SMTPReply(code: 250, ""))]),
        Case(input: "250 \r\n", expected: [.reply(SMTPReply(code: 250, ""))]),
        Case(input: "334 \r\n", expected: [.reply(.authChallenge(""))]),
        Case(input: "334 VXNlcm5hbWU6\r\n", expected: [.reply(.authChallenge("VXNlcm5hbWU6"))]),
        Case(input: "354 End data with <CR><LF>.<CR><LF>\n", expected: [.reply(.startMailInput)]),
        Case(input: "250-\r\n250 x\r\n", expected: [.reply(SMTPReply(code: 250, lines: ["", "x"]))]),
        Case(input: "550 5.1.1 <x@y>: Recipient address rejected\r\n",
             expected: [.reply(SMTPReply(code: 550, enhanced: EnhancedStatus(5, 1, 1), "<x@y>: Recipient address rejected"))]),
        // An enhanced code of another class than the reply is text, not a status.
        Case(input: "250 5.1.1 odd\r\n", expected: [.reply(SMTPReply(code: 250, "5.1.1 odd"))]),
        Case(input: "250 2.0.0x\r\n", expected: [.reply(SMTPReply(code: 250, "2.0.0x"))]),
        Case(input: "250 2.0.0\r\n", expected: [.reply(SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), ""))]),
        // Two replies back to back (pipelining, RFC 2920).
        Case(input: "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n",
             expected: [.reply(.senderOk), .reply(.recipientOk), .reply(SMTPReply(code: 354, "go"))]),
        Case(input: "250 Ok\r\n250-partial\r\n", expected: [.reply(SMTPReply(code: 250, "Ok"))]),
        Case(input: "250 Ok", expected: []),
        // Malformed
        Case(input: "25 Ok\r\n", expected: [.error(.malformedLine("25 Ok"))]),
        Case(input: "250x\r\n", expected: [.error(.malformedLine("250x"))]),
        Case(input: "abc\r\n", expected: [.error(.malformedLine("abc"))]),
        Case(input: "650 x\r\n", expected: [.error(.malformedLine("650 x"))]),
        Case(input: "150 x\r\n", expected: [.error(.malformedLine("150 x"))]),
        Case(input: "\r\n", expected: [.error(.malformedLine(""))]),
        Case(input: "250-a\r\n251 b\r\n", expected: [.error(.inconsistentCode(expected: 250, received: 251))]),
        Case(input: "250-a\r\nxyz\r\n", expected: [.error(.malformedLine("xyz"))]),
    ]

    @Test("replies", arguments: cases)
    func parse(_ c: Case) {
        for chunking in Chunking.standard {
            let (results, leftover, _) = runReplyParser(bytes(c.input), chunking: chunking)
            #expect(results == c.expected, "\(chunking)")
            if c.expected.allSatisfy({ if case .reply = $0 { true } else { false } }) {
                let expectedLeftover: [UInt8]
                if c.input == "250 Ok\r\n250-partial\r\n" {
                    expectedLeftover = []  // the complete continuation line went into the parser's state
                } else if c.input == "250 Ok" {
                    expectedLeftover = bytes("250 Ok")
                } else {
                    expectedLeftover = []
                }
                #expect(leftover == expectedLeftover, "\(chunking)")
            }
        }
    }

    @Test("complete continuation lines are consumed into the state")
    func resumes() {
        var parser = SMTPReplyParser()
        var buffer = bytes("250-a\r\n250-b")
        #expect(parser.parse(&buffer) == .needMoreBytes)
        #expect(buffer == bytes("250-b"))
        buffer += bytes("\r\n250 c\r\n")
        #expect(parser.parse(&buffer) == .reply(SMTPReply(code: 250, lines: ["a", "b", "c"])))
        #expect(buffer.isEmpty)
    }

    @Test("bounded: too many lines")
    func tooManyLines() {
        let configuration = SMTPReplyParser.Configuration(maxLines: 3)
        let ok = "250-a\r\n250-b\r\n250 c\r\n"
        #expect(runReplyParser(bytes(ok), chunking: .whole, configuration: configuration).results
                == [.reply(SMTPReply(code: 250, lines: ["a", "b", "c"]))])
        let tooMany = "250-a\r\n250-b\r\n250-c\r\n250 d\r\n"
        #expect(runReplyParser(bytes(tooMany), chunking: .byteByByte, configuration: configuration).results
                == [.error(.tooManyLines)])
        let endless = String(repeating: "250-x\r\n", count: SMTPLimits.maxReplyLines + 1)
        #expect(runReplyParser(bytes(endless), chunking: .whole).results == [.error(.tooManyLines)])
    }

    @Test("bounded: line length")
    func lineTooLong() {
        let limit = SMTPLimits.maxReplyLineLength
        let exact = "250 " + String(repeating: "x", count: limit - 6) + "\r\n"
        #expect(exact.utf8.count == limit)
        #expect(runReplyParser(bytes(exact), chunking: .whole).results
                == [.reply(SMTPReply(code: 250, String(repeating: "x", count: limit - 6)))])
        let over = "250 " + String(repeating: "x", count: limit - 5) + "\r\n"
        for chunking in Chunking.standard {
            let (results, _, maxBuffered) = runReplyParser(bytes(over), chunking: chunking)
            #expect(results == [.error(.lineTooLong)], "\(chunking)")
            #expect(maxBuffered < limit)
        }
        // No LF at all: the error comes once `maxLineLength` octets are buffered.
        let junk = [UInt8](repeating: 0x32, count: 3 * limit)
        let (results, _, maxBuffered) = runReplyParser(junk, chunking: .random(seed: 5, maxChunk: 100))
        #expect(results == [.error(.lineTooLong)])
        #expect(maxBuffered < limit)
    }

    @Test("replies round-trip through encode and parse", arguments: SMTPReplyTests.staticCases)
    func roundTrip(_ c: SMTPReplyTests.StaticCase) {
        var parser = SMTPReplyParser()
        var buffer = c.reply.encoded
        #expect(parser.parse(&buffer) == .reply(c.reply))
        #expect(buffer.isEmpty)
    }

    @Test("multi-line replies round-trip")
    func multiLineRoundTrip() {
        let replies: [SMTPReply] = [
            .ehlo(hostname: "mx.example", greeting: "Hello", capabilities: ["PIPELINING", "AUTH PLAIN LOGIN", "CHUNKING"]),
            SMTPReply(code: 550, enhanced: EnhancedStatus(5, 7, 1), lines: ["one", "two", "three"]),
            SMTPReply(code: 421, enhanced: EnhancedStatus(4, 4, 2), lines: ["", ""]),
        ]
        var wire: [UInt8] = []
        for reply in replies { reply.encode(into: &wire) }
        for chunking in Chunking.standard {
            #expect(runReplyParser(wire, chunking: chunking).results == replies.map { .reply($0) }, "\(chunking)")
        }
    }
}
