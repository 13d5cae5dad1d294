import LineFraming
import SMTPProtocol
import Testing

struct CommandCase: Sendable, CustomTestStringConvertible {
    var line: String
    var expected: SMTPCommandParser.ParseResult
    init(_ line: String, _ expected: SMTPCommand) {
        self.line = line
        self.expected = .command(expected)
    }
    init(_ line: String, _ reply: SMTPReply) {
        self.line = line
        self.expected = .error(reply)
    }
    var testDescription: String { line.debugDescription }
}

private func p(_ keyword: String, _ value: String? = nil) -> ESMTPParameter {
    ESMTPParameter(keyword: keyword, value: value)
}

private let syntax501 = SMTPReply.syntaxErrorInParameters

let validCommands: [CommandCase] = [
    // EHLO / HELO / LHLO (RFC 5321 §4.1.1.1, RFC 2033 §4.1)
    CommandCase("EHLO mail.example.com", .ehlo("mail.example.com")),
    CommandCase("ehlo Mail.Example.COM", .ehlo("Mail.Example.COM")),
    CommandCase("EhLo [192.0.2.1]", .ehlo("[192.0.2.1]")),
    CommandCase("EHLO [IPv6:2001:db8::1]", .ehlo("[IPv6:2001:db8::1]")),
    CommandCase("EHLO   spaced.example  ", .ehlo("spaced.example")),
    CommandCase("EHLO bücher.example", .ehlo("bücher.example")),
    CommandCase("HELO host", .helo("host")),
    CommandCase("helo host", .helo("host")),
    CommandCase("LHLO client.example", .lhlo("client.example")),
    CommandCase("lhlo x", .lhlo("x")),
    // MAIL (RFC 5321 §4.1.1.2)
    CommandCase("MAIL FROM:<a@b.example>", .mail(reversePath: "a@b.example", parameters: [])),
    CommandCase("mail from:<a@b>", .mail(reversePath: "a@b", parameters: [])),
    CommandCase("Mail From:<A@B>", .mail(reversePath: "A@B", parameters: [])),
    CommandCase("MAIL FROM: <a@b>", .mail(reversePath: "a@b", parameters: [])),
    CommandCase("MAIL FROM:   <a@b>", .mail(reversePath: "a@b", parameters: [])),
    CommandCase("MAIL  FROM:<a@b>", .mail(reversePath: "a@b", parameters: [])),
    CommandCase("MAIL FROM:<>", .mail(reversePath: "", parameters: [])),
    CommandCase("MAIL FROM:<> ", .mail(reversePath: "", parameters: [])),
    CommandCase("MAIL FROM:<> SIZE=100 BODY=8BITMIME",
                .mail(reversePath: "", parameters: [p("SIZE", "100"), p("BODY", "8BITMIME")])),
    CommandCase("MAIL FROM:<a@b>  size=100   body=7bit",
                .mail(reversePath: "a@b", parameters: [p("SIZE", "100"), p("BODY", "7bit")])),
    CommandCase("MAIL FROM:<a@b> SMTPUTF8", .mail(reversePath: "a@b", parameters: [p("SMTPUTF8")])),
    CommandCase("MAIL FROM:<a@b> ENVID=QQ+2B1 RET=HDRS AUTH=<>",
                .mail(reversePath: "a@b", parameters: [p("ENVID", "QQ+2B1"), p("RET", "HDRS"), p("AUTH", "<>")])),
    CommandCase("MAIL FROM:<a@b> X-FOO-1=v X2", .mail(reversePath: "a@b", parameters: [p("X-FOO-1", "v"), p("X2")])),
    CommandCase("MAIL FROM:<@relay1.example,@relay2.example:user@example.com>",
                .mail(reversePath: "user@example.com", parameters: [])),
    CommandCase("MAIL FROM:<@relay.example:user@example.com> SIZE=1",
                .mail(reversePath: "user@example.com", parameters: [p("SIZE", "1")])),
    CommandCase(#"MAIL FROM:<"a>b"@example.com>"#, .mail(reversePath: #""a>b"@example.com"#, parameters: [])),
    CommandCase(#"MAIL FROM:<"a\"b c"@example.com>"#, .mail(reversePath: #""a\"b c"@example.com"#, parameters: [])),
    CommandCase(#"MAIL FROM:<"<>"@example.com>"#, .mail(reversePath: #""<>"@example.com"#, parameters: [])),
    CommandCase("MAIL FROM:<user@[192.0.2.1]>", .mail(reversePath: "user@[192.0.2.1]", parameters: [])),
    CommandCase("MAIL FROM:<user@[IPv6:2001:db8::1]>", .mail(reversePath: "user@[IPv6:2001:db8::1]", parameters: [])),
    CommandCase("MAIL FROM:<用户@例子.广告> SMTPUTF8", .mail(reversePath: "用户@例子.广告", parameters: [p("SMTPUTF8")])),
    CommandCase("MAIL FROM:<a@b> X=wert-ü", .mail(reversePath: "a@b", parameters: [p("X", "wert-ü")])),
    CommandCase("MAIL FROM:<postmaster>", .mail(reversePath: "postmaster", parameters: [])),
    // RCPT (RFC 5321 §4.1.1.3)
    CommandCase("RCPT TO:<user@example.com>", .rcpt(forwardPath: "user@example.com", parameters: [])),
    CommandCase("rcpt to:<Postmaster>", .rcpt(forwardPath: "Postmaster", parameters: [])),
    CommandCase("RCPT TO: <x@y> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40y",
                .rcpt(forwardPath: "x@y", parameters: [p("NOTIFY", "SUCCESS,FAILURE"), p("ORCPT", "rfc822;x+40y")])),
    CommandCase("RCPT TO:<@hop:u@d>", .rcpt(forwardPath: "u@d", parameters: [])),
    // DATA, BDAT (RFC 3030 §2), RSET, NOOP, QUIT
    CommandCase("DATA", .data),
    CommandCase("data", .data),
    CommandCase("DATA   ", .data),
    CommandCase("DATA\t", .data),
    CommandCase("BDAT 1000", .bdat(size: 1000, last: false)),
    CommandCase("BDAT 0 LAST", .bdat(size: 0, last: true)),
    CommandCase("bdat 12 last", .bdat(size: 12, last: true)),
    CommandCase("BDAT 123456789012345678", .bdat(size: 123_456_789_012_345_678, last: false)),
    CommandCase("RSET", .rset),
    CommandCase("rset", .rset),
    CommandCase("NOOP", .noop),
    CommandCase("NOOP anything goes \u{1}", .noop),
    CommandCase("QUIT", .quit),
    CommandCase("Quit", .quit),
    // VRFY, EXPN, HELP (RFC 5321 §4.1.1.6-8)
    CommandCase("VRFY postmaster", .vrfy("postmaster")),
    CommandCase("VRFY Smith <smith@example.com>", .vrfy("Smith <smith@example.com>")),
    CommandCase("EXPN list", .expn("list")),
    CommandCase("HELP", .help(nil)),
    CommandCase("HELP MAIL", SMTPCommand.help("MAIL")),
    CommandCase("help  mail ", SMTPCommand.help("mail")),
    // STARTTLS (RFC 3207), AUTH (RFC 4954)
    CommandCase("STARTTLS", .starttls),
    CommandCase("starttls", .starttls),
    CommandCase("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
    CommandCase("auth plain AGZvbwBiYXI=", .auth(mechanism: "PLAIN", initialResponse: "AGZvbwBiYXI=")),
    CommandCase("AUTH PLAIN =", .auth(mechanism: "PLAIN", initialResponse: "=")),
    CommandCase("AUTH LOGIN dXNlcg==", .auth(mechanism: "LOGIN", initialResponse: "dXNlcg==")),
    CommandCase("AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM",
                .auth(mechanism: "SCRAM-SHA-256", initialResponse: "biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM")),
    CommandCase("AUTH X_OAUTH2 ab+/", .auth(mechanism: "X_OAUTH2", initialResponse: "ab+/")),
    CommandCase("AUTH ABCDEFGHIJKLMNOPQRST", .auth(mechanism: "ABCDEFGHIJKLMNOPQRST", initialResponse: nil)),
]

let invalidCommands: [CommandCase] = [
    // Unknown or malformed verbs: 500 5.5.2
    CommandCase("", .commandUnrecognized),
    CommandCase("   ", .commandUnrecognized),
    CommandCase(" EHLO host", .commandUnrecognized),
    CommandCase("FOO bar", .commandUnrecognized),
    CommandCase("GET / HTTP/1.1", .commandUnrecognized),
    CommandCase("MAILFROM:<a@b>", .commandUnrecognized),
    CommandCase("MAIL:FROM:<a@b>", .commandUnrecognized),
    CommandCase("EHLO1 host", .commandUnrecognized),
    CommandCase("STARTTLSX", .commandUnrecognized),
    CommandCase("ÉHLO host", .commandUnrecognized),
    CommandCase("\tEHLO host", .commandUnrecognized),
    // EHLO / HELO / LHLO arguments: 501
    CommandCase("EHLO", .syntaxErrorInParameters("Syntax: EHLO hostname")),
    CommandCase("EHLO   ", .syntaxErrorInParameters("Syntax: EHLO hostname")),
    CommandCase("HELO", .syntaxErrorInParameters("Syntax: HELO hostname")),
    CommandCase("LHLO", .syntaxErrorInParameters("Syntax: LHLO hostname")),
    CommandCase("EHLO a b", .syntaxErrorInParameters("Syntax: EHLO hostname")),
    CommandCase("EHLO host\u{0}", .syntaxErrorInParameters("Syntax: EHLO hostname")),
    CommandCase("EHLO ho\u{7F}st", .syntaxErrorInParameters("Syntax: EHLO hostname")),
    // MAIL
    CommandCase("MAIL", .syntaxErrorInParameters("Syntax: MAIL FROM:<address>")),
    CommandCase("MAIL TO:<a@b>", .syntaxErrorInParameters("Syntax: MAIL FROM:<address>")),
    CommandCase("MAIL FROM <a@b>", .syntaxErrorInParameters("Syntax: MAIL FROM:<address>")),
    CommandCase("MAIL FRO", .syntaxErrorInParameters("Syntax: MAIL FROM:<address>")),
    CommandCase("MAIL FROM:a@b", .badSenderSyntax),
    CommandCase("MAIL FROM:", .badSenderSyntax),
    CommandCase("MAIL FROM:<a@b", .badSenderSyntax),
    CommandCase("MAIL FROM:<", .badSenderSyntax),
    CommandCase("MAIL FROM:<a b@c>", .badSenderSyntax),
    CommandCase("MAIL FROM:<a<b@c>", .badSenderSyntax),
    CommandCase("MAIL FROM:<a\u{1}b@c>", .badSenderSyntax),
    CommandCase(#"MAIL FROM:<"unterminated@b>"#, .badSenderSyntax),
    CommandCase(#"MAIL FROM:<"a\"#, .badSenderSyntax),
    CommandCase("MAIL FROM:<@relay:>", .badSenderSyntax),
    CommandCase("MAIL FROM:<@:a@b>", .badSenderSyntax),
    CommandCase("MAIL FROM:<@relay,a@b>", .badSenderSyntax),
    CommandCase("MAIL FROM:<@relay,:a@b>", .badSenderSyntax),
    CommandCase("MAIL FROM:<@re lay:a@b>", .badSenderSyntax),
    CommandCase("MAIL FROM:<@relay>", .badSenderSyntax),
    CommandCase("MAIL FROM:<@relay:@a>", .badSenderSyntax),
    CommandCase("MAIL FROM:<a@b>SIZE=1", syntax501),
    CommandCase("MAIL FROM:<a@b> SIZE=", syntax501),
    CommandCase("MAIL FROM:<a@b> SIZE=1=2", syntax501),
    CommandCase("MAIL FROM:<a@b> =1", syntax501),
    CommandCase("MAIL FROM:<a@b> -X", syntax501),
    CommandCase("MAIL FROM:<a@b> X_Y=1", syntax501),
    CommandCase("MAIL FROM:<a@b> X=\u{1}", syntax501),
    CommandCase("MAIL FROM:<a@b> SIZE=1 size=2", .duplicateParameter),
    CommandCase("MAIL FROM:<a@b> SMTPUTF8 SMTPUTF8", .duplicateParameter),
    // RCPT
    CommandCase("RCPT", .syntaxErrorInParameters("Syntax: RCPT TO:<address>")),
    CommandCase("RCPT FROM:<a@b>", .syntaxErrorInParameters("Syntax: RCPT TO:<address>")),
    CommandCase("RCPT TO:<>", .badRecipientSyntax),
    CommandCase("RCPT TO:a@b", .badRecipientSyntax),
    CommandCase("RCPT TO:<a@b", .badRecipientSyntax),
    CommandCase("RCPT TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", .duplicateParameter),
    CommandCase("RCPT TO:<a@b>x", syntax501),
    // Commands without arguments
    CommandCase("DATA x", syntax501),
    CommandCase("QUIT now", syntax501),
    CommandCase("RSET x", syntax501),
    CommandCase("STARTTLS x", syntax501),
    // VRFY, EXPN, HELP
    CommandCase("VRFY", syntax501),
    CommandCase("EXPN", syntax501),
    CommandCase("VRFY a\u{1}", syntax501),
    CommandCase("HELP \u{1}", syntax501),
    // BDAT
    CommandCase("BDAT", .syntaxErrorInParameters("Syntax: BDAT size [LAST]")),
    CommandCase("BDAT x", .syntaxErrorInParameters("Syntax: BDAT size [LAST]")),
    CommandCase("BDAT -1", .syntaxErrorInParameters("Syntax: BDAT size [LAST]")),
    CommandCase("BDAT 10 FIRST", .syntaxErrorInParameters("Syntax: BDAT size [LAST]")),
    CommandCase("BDAT 10LAST", .syntaxErrorInParameters("Syntax: BDAT size [LAST]")),
    CommandCase("BDAT 10 LAST x", .syntaxErrorInParameters("Syntax: BDAT size [LAST]")),
    CommandCase("BDAT 1234567890123456789", .syntaxErrorInParameters("BDAT chunk size too large")),
    // AUTH
    CommandCase("AUTH", .syntaxErrorInParameters("Syntax: AUTH mechanism [initial-response]")),
    CommandCase("AUTH PL@IN", .syntaxErrorInParameters("Syntax: AUTH mechanism [initial-response]")),
    CommandCase("AUTH ABCDEFGHIJKLMNOPQRSTU", .syntaxErrorInParameters("Syntax: AUTH mechanism [initial-response]")),
    CommandCase("AUTH PLAIN abc", .invalidBase64),
    CommandCase("AUTH PLAIN ab=c", .invalidBase64),
    CommandCase("AUTH PLAIN a=bc", .invalidBase64),
    CommandCase("AUTH PLAIN a===", .invalidBase64),
    CommandCase("AUTH PLAIN abcd efgh", .invalidBase64),
    CommandCase("AUTH PLAIN ab!d", .invalidBase64),
    CommandCase("AUTH PLAIN ==", .invalidBase64),
]

@Suite("SMTP command parser")
struct SMTPCommandParserTests {
    @Test("valid commands", arguments: validCommands)
    func valid(_ c: CommandCase) {
        #expect(SMTPCommandParser.parseLine(c.line.utf8) == c.expected)
        // The same through the framed, resumable parser, fed whole and byte by byte.
        for chunking in [Chunking.whole, .byteByByte] {
            let (results, leftover) = runCommandParser(bytes(c.line + "\r\n"), chunking: chunking)
            #expect(results == [c.expected], "\(chunking)")
            #expect(leftover.isEmpty)
        }
    }

    @Test("invalid commands", arguments: invalidCommands)
    func invalid(_ c: CommandCase) {
        #expect(SMTPCommandParser.parseLine(c.line.utf8) == c.expected)
        let (results, leftover) = runCommandParser(bytes(c.line + "\r\nNOOP\r\n"), chunking: .byteByByte)
        #expect(results == [c.expected, .command(.noop)])
        #expect(leftover.isEmpty)
    }

    @Test("invalid UTF-8 is rejected in arguments")
    func invalidUTF8() {
        let cases: [([UInt8], SMTPCommandParser.ParseResult)] = [
            (bytes("MAIL FROM:<a@b") + [0xFF] + bytes(">"), .error(.badSenderSyntax)),
            (bytes("RCPT TO:<") + [0xC3, 0x28] + bytes("@b>"), .error(.badRecipientSyntax)),
            (bytes("MAIL FROM:<a@b> X=") + [0xE2, 0x82], .error(.syntaxErrorInParameters)),
            (bytes("EHLO ") + [0xC0, 0xAF], .error(.syntaxErrorInParameters("Syntax: EHLO hostname"))),
            (bytes("VRFY ") + [0xFE], .error(.syntaxErrorInParameters)),
            (bytes("NOOP ") + [0xFE], .command(.noop)),
            ([0xFF] + bytes("HLO x"), .error(.commandUnrecognized)),
        ]
        for (line, expected) in cases {
            #expect(SMTPCommandParser.parseLine(line) == expected)
            #expect(runCommandParser(line + [13, 10], chunking: .whole).results == [expected])
        }
    }

    @Test("error replies carry the codes the server must send")
    func errorCodes() {
        #expect(SMTPReply.commandUnrecognized.description == "500 5.5.2 Syntax error, command unrecognized")
        #expect(SMTPReply.syntaxErrorInParameters.description == "501 5.5.4 Syntax error in parameters or arguments")
        #expect(SMTPReply.lineTooLong.description == "500 5.5.6 Line too long")
        #expect(SMTPReply.parametersNotRecognized.code == 555)
        #expect(SMTPReply.parametersNotRecognized.enhanced == EnhancedStatus(5, 5, 4))
        #expect(SMTPReply.badSenderSyntax.code == 501)
        #expect(SMTPReply.badRecipientSyntax.code == 501)
        #expect(SMTPReply.bareLineFeedInCommand.code == 500)
        #expect(SMTPReply.bareLineFeedInCommand.enhanced == EnhancedStatus(5, 5, 2))
        #expect(SMTPReply.bareCarriageReturnInCommand.code == 500)
    }

    @Test("pipelined commands come out one per call")
    func pipelining() {
        var parser = SMTPCommandParser()
        var buffer = bytes("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\nHello")
        #expect(parser.parse(&buffer) == .command(.mail(reversePath: "a@b", parameters: [])))
        #expect(parser.parse(&buffer) == .command(.rcpt(forwardPath: "c@d", parameters: [])))
        #expect(parser.parse(&buffer) == .command(.rcpt(forwardPath: "e@f", parameters: [])))
        #expect(parser.parse(&buffer) == .command(.data))
        // The message body is not a command: it stays in the buffer for the DATA decoder.
        #expect(parser.parse(&buffer) == .needMoreBytes)
        #expect(buffer == bytes("Hello"))
    }

    @Test("incomplete input is left intact")
    func needMoreBytes() {
        var parser = SMTPCommandParser()
        for input in ["", "E", "EHLO", "EHLO host", "EHLO host\r", "MAIL FROM:<a@b> SIZE=10"] {
            let (result, consumed) = parser.parse(bytes(input)[...])
            #expect(result == .needMoreBytes)
            #expect(consumed == 0)
        }
        // An ArraySlice that does not start at index 0.
        let whole = bytes("xxQUIT\r\n")
        let (result, consumed) = parser.parse(whole[2...])
        #expect(result == .command(.quit))
        #expect(consumed == 6)
    }

    struct FramingCase: Sendable, CustomTestStringConvertible {
        var input: String
        var expected: [SMTPCommandParser.ParseResult]
        var leftover: String = ""
        var testDescription: String { input.debugDescription }
    }

    static let framingCases: [FramingCase] = [
        FramingCase(input: "QUIT\n", expected: [.error(.bareLineFeedInCommand)]),
        FramingCase(input: "\n", expected: [.error(.bareLineFeedInCommand)]),
        FramingCase(input: "EHLO a\nQUIT\r\n", expected: [.error(.bareLineFeedInCommand), .command(.quit)]),
        FramingCase(input: "EHLO a\rQUIT\r\n", expected: [.error(.bareCarriageReturnInCommand)]),
        FramingCase(input: "\r\r\nQUIT\r\n", expected: [.error(.bareCarriageReturnInCommand), .command(.quit)]),
        FramingCase(input: "MAIL FROM:<a@b>\rRCPT TO:<c@d>\r\nRSET\r\n",
                    expected: [.error(.bareCarriageReturnInCommand), .command(.rset)]),
        FramingCase(input: "DATA\r\r\n", expected: [.error(.bareCarriageReturnInCommand)]),
        FramingCase(input: "\r\n", expected: [.error(.commandUnrecognized)]),
        FramingCase(input: "QUIT\r\nNOOP", expected: [.command(.quit)], leftover: "NOOP"),
        FramingCase(input: "QUIT\r", expected: [], leftover: "QUIT\r"),
        FramingCase(input: "NOOP\r\n\r\nRSET\r\n", expected: [.command(.noop), .error(.commandUnrecognized), .command(.rset)]),
    ]

    @Test("line framing: CRLF only, bare LF and bare CR rejected and consumed", arguments: framingCases)
    func framing(_ c: FramingCase) {
        for chunking in Chunking.standard {
            let (results, leftover) = runCommandParser(bytes(c.input), chunking: chunking)
            #expect(results == c.expected, "\(chunking)")
            #expect(leftover == bytes(c.leftover), "\(chunking)")
        }
    }

    @Test("line length limits, CRLF included")
    func lineLengths() {
        let limit = SMTPLimits.maxCommandLineLength
        // "NOOP " + filler + CRLF, exactly at the limit: accepted.
        let exact = "NOOP " + String(repeating: "x", count: limit - 7) + "\r\n"
        #expect(exact.utf8.count == limit)
        #expect(runCommandParser(bytes(exact), chunking: .whole).results == [.command(.noop)])
        // One octet more: 500 5.5.6, and the next command still works.
        let over = "NOOP " + String(repeating: "x", count: limit - 6) + "\r\nQUIT\r\n"
        for chunking in Chunking.standard {
            #expect(runCommandParser(bytes(over), chunking: chunking).results == [.error(.lineTooLong), .command(.quit)],
                    "\(chunking)")
        }
        // A long CR at the limit boundary: CR is the limit-th octet, LF the one after.
        let boundary = "NOOP " + String(repeating: "x", count: limit - 6) + "\r\n"
        #expect(boundary.utf8.count == limit + 1)
        #expect(runCommandParser(bytes(boundary), chunking: .whole).results == [.error(.lineTooLong)])
    }

    @Test("AUTH lines may be as long as 12288 octets (RFC 4954 §4)")
    func authLineLength() {
        let limit = SMTPLimits.maxAuthLineLength
        let prefix = "AUTH PLAIN "
        let b64 = String(repeating: "QUJD", count: (limit - prefix.utf8.count - 2) / 4)
        let line = prefix + b64 + "\r\n"
        #expect(line.utf8.count <= limit && line.utf8.count > limit - 4)
        for chunking in [Chunking.whole, .random(seed: 9, maxChunk: 1000)] {
            #expect(runCommandParser(bytes(line), chunking: chunking).results
                    == [.command(.auth(mechanism: "PLAIN", initialResponse: b64))])
        }
        let tooLong = "AUTH PLAIN " + String(repeating: "QUJD", count: limit / 4) + "\r\nQUIT\r\n"
        #expect(runCommandParser(bytes(tooLong), chunking: .random(seed: 4, maxChunk: 1500)).results
                == [.error(.lineTooLong), .command(.quit)])
        // Only AUTH gets the larger limit.
        let noop = "NOOP " + String(repeating: "x", count: 5000) + "\r\n"
        #expect(runCommandParser(bytes(noop), chunking: .whole).results == [.error(.lineTooLong)])
    }

    @Test("an overlong line without CRLF is discarded as it arrives, never buffered")
    func discardWithoutCRLF() {
        var parser = SMTPCommandParser()
        var buffered = 0
        var rng = SeededRNG(seed: 42)
        // 100 kB of junk without any LF, in chunks.
        var sent = 0
        var buffer: [UInt8] = []
        while sent < 100_000 {
            let n = Int.random(in: 1...4096, using: &rng)
            buffer.append(contentsOf: [UInt8](repeating: 0x61, count: n))
            sent += n
            let (result, consumed) = parser.parse(buffer[...])
            #expect(result == .needMoreBytes)
            buffer.removeFirst(consumed)
            buffered = max(buffered, buffer.count)
            #expect(buffer.count <= SMTPLimits.maxCommandLineLength)
        }
        #expect(parser.isDiscardingOverlongLine)
        buffer.append(contentsOf: bytes("tail\r\nQUIT\r\n"))
        #expect(parser.parse(&buffer) == .error(.lineTooLong))
        #expect(!parser.isDiscardingOverlongLine)
        #expect(parser.parse(&buffer) == .command(.quit))
        #expect(buffered < SMTPLimits.maxCommandLineLength)
    }

    @Test("custom limits")
    func customLimits() {
        let configuration = SMTPCommandParser.Configuration(maxCommandLineLength: 512, maxAuthLineLength: 1024)
        let line513 = "NOOP " + String(repeating: "y", count: 506) + "\r\n"
        #expect(line513.utf8.count == 513)
        #expect(runCommandParser(bytes(line513), chunking: .whole, configuration: configuration).results
                == [.error(.lineTooLong)])
        let line512 = "NOOP " + String(repeating: "y", count: 505) + "\r\n"
        #expect(runCommandParser(bytes(line512), chunking: .whole, configuration: configuration).results
                == [.command(.noop)])
    }

    @Test("commands round-trip through encode and parse", arguments: validCommands)
    func roundTrip(_ c: CommandCase) throws {
        guard case .command(let command) = c.expected else { return }
        let encoded = try #require(command.encoded)
        #expect(encoded.suffix(2) == [13, 10])
        let (results, _) = runCommandParser(encoded, chunking: .whole)
        #expect(results == [.command(command)])
    }

    @Test("encoding refuses control characters in arguments (no command injection)")
    func encodeRefusesLineBreaks() {
        #expect(SMTPCommand.mail(reversePath: "a@b>\r\nRCPT TO:<c@d", parameters: []).encoded == nil)
        #expect(SMTPCommand.ehlo("host\nQUIT").encoded == nil)
        #expect(SMTPCommand.auth(mechanism: "PLAIN", initialResponse: "ab\r\n").encoded == nil)
        #expect(SMTPCommand.data.encoded == bytes("DATA\r\n"))
        #expect(SMTPCommand.bdat(size: 10, last: true).encoded == bytes("BDAT 10 LAST\r\n"))
        #expect(SMTPCommand.mail(reversePath: "", parameters: [ESMTPParameter(keyword: "body", value: "8BITMIME")]).encoded
                == bytes("MAIL FROM:<> BODY=8BITMIME\r\n"))
    }
}

@Suite("SASL response lines (RFC 4954 §4)")
struct AuthResponseTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var input: String
        var expected: SMTPCommandParser.AuthResponse
        var testDescription: String { input.debugDescription }
    }

    static let cases: [Case] = [
        Case(input: "dGVzdA==\r\n", expected: .response(Array("test".utf8))),
        Case(input: "dGVzdA== \r\n", expected: .response(Array("test".utf8))),
        Case(input: "AGZvbwBiYXI=\r\n", expected: .response(Array("\u{0}foo\u{0}bar".utf8))),
        Case(input: "\r\n", expected: .response([])),
        Case(input: "*\r\n", expected: .cancel),
        Case(input: "abc\r\n", expected: .error(.invalidBase64)),
        Case(input: "**\r\n", expected: .error(.invalidBase64)),
        Case(input: "dGVz dA==\r\n", expected: .error(.invalidBase64)),
        Case(input: "dGVzdA==\n", expected: .error(.bareLineFeedInCommand)),
        Case(input: "dGVz\rdA==\r\n", expected: .error(.bareCarriageReturnInCommand)),
        Case(input: "dGVzdA==", expected: .needMoreBytes),
        Case(input: "dGVzdA==\r", expected: .needMoreBytes),
    ]

    @Test(arguments: cases)
    func response(_ c: Case) {
        var parser = SMTPCommandParser()
        var buffer = bytes(c.input)
        #expect(parser.parseAuthResponse(&buffer) == c.expected)
        if c.expected == .needMoreBytes { #expect(buffer == bytes(c.input)) } else { #expect(buffer.isEmpty) }
    }

    @Test("overlong SASL responses: 500 5.5.6, discarded, then the next line is read")
    func overlong() {
        var parser = SMTPCommandParser()
        var buffer = bytes(String(repeating: "QUJD", count: SMTPLimits.maxAuthLineLength / 4))
        #expect(parser.parseAuthResponse(&buffer) == .needMoreBytes)
        #expect(buffer.isEmpty)
        buffer = bytes("QUJD\r\n*\r\n")
        #expect(parser.parseAuthResponse(&buffer) == .error(.authLineTooLong))
        #expect(parser.parseAuthResponse(&buffer) == .cancel)

        let exact = String(repeating: "QUJD", count: (SMTPLimits.maxAuthLineLength - 2) / 4)
        buffer = bytes(exact + "\r\n")
        #expect(parser.parseAuthResponse(&buffer) == .response(Base64.decode(exact)!))
    }
}
