import POP3Protocol
import Testing

struct CommandCase: Sendable, CustomTestStringConvertible {
    var line: String
    var expected: POP3CommandParser.ParseResult
    init(_ line: String, _ expected: POP3Command) {
        self.line = line
        self.expected = .command(expected)
    }
    init(_ line: String, _ error: POP3Response) {
        self.line = line
        self.expected = .error(error)
    }
    var testDescription: String { line.debugDescription }
}

typealias E = POP3CommandParser.Errors

let validCommands: [CommandCase] = [
    // RFC 1939 §7 USER / PASS / APOP
    CommandCase("USER alice@example.test", .user("alice@example.test")),
    CommandCase("user alice", .user("alice")),
    CommandCase("UsEr  alice  ", .user("alice")),
    CommandCase("USER jörg@bücher.example", .user("jörg@bücher.example")),
    CommandCase("PASS secret", .pass("secret")),
    CommandCase("pass correct horse battery staple", .pass("correct horse battery staple")),
    CommandCase("PASS  leading space", .pass(" leading space")),
    CommandCase("PASS trailing space ", .pass("trailing space ")),
    CommandCase("PASS tab\tinside", .pass("tab\tinside")),
    CommandCase("PASS pässwörd", .pass("pässwörd")),
    CommandCase("PASS *", .pass("*")),
    CommandCase("APOP mrose c4c9334bac560ecc979e58001b3e22fb", .apop(name: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb")),
    // RFC 1939 §5 TRANSACTION commands
    CommandCase("STAT", .stat),
    CommandCase("stat", .stat),
    CommandCase("STAT ", .stat),
    CommandCase("STAT\t", .stat),
    CommandCase("LIST", .list(nil)),
    CommandCase("LIST 1", .list(1)),
    CommandCase("list 0042", .list(42)),
    CommandCase("LIST  7 ", .list(7)),
    CommandCase("LIST 0", .list(0)),
    CommandCase("LIST 99999999999999999999999999", .list(Int.max)),
    CommandCase("RETR 1", .retr(1)),
    CommandCase("retr 12345", .retr(12345)),
    CommandCase("DELE 3", .dele(3)),
    CommandCase("NOOP", .noop),
    CommandCase("RSET", .rset),
    CommandCase("QUIT", .quit),
    CommandCase("quit", .quit),
    // RFC 1939 §7 TOP / UIDL
    CommandCase("TOP 1 10", .top(1, lines: 10)),
    CommandCase("top 2 0", .top(2, lines: 0)),
    CommandCase("TOP 1 123456789012345678901234", .top(1, lines: Int.max)),
    CommandCase("UIDL", .uidl(nil)),
    CommandCase("UIDL 2", .uidl(2)),
    // RFC 2449 §5, RFC 2595 §4
    CommandCase("CAPA", .capa),
    CommandCase("STLS", .stls),
    CommandCase("stls", .stls),
    // RFC 5034 §4 AUTH
    CommandCase("AUTH", .auth(mechanism: nil, initialResponse: nil)),
    CommandCase("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
    CommandCase("auth plain", .auth(mechanism: "PLAIN", initialResponse: nil)),
    CommandCase("AUTH PLAIN AGFsaWNlAHNlY3JldA==", .auth(mechanism: "PLAIN", initialResponse: "AGFsaWNlAHNlY3JldA==")),
    CommandCase("AUTH PLAIN =", .auth(mechanism: "PLAIN", initialResponse: "=")),
    CommandCase("AUTH SCRAM-SHA-256", .auth(mechanism: "SCRAM-SHA-256", initialResponse: nil)),
    CommandCase("AUTH X_OAUTH2 dGVzdA==", .auth(mechanism: "X_OAUTH2", initialResponse: "dGVzdA==")),
]

let malformedCommands: [CommandCase] = [
    CommandCase("", E.emptyCommand),
    CommandCase("   ", E.emptyCommand),
    CommandCase("HELO example", E.unknownCommand),
    CommandCase("XTND XMIT", E.unknownCommand),
    CommandCase("STATS", E.unknownCommand),
    CommandCase("ST", E.unknownCommand),
    CommandCase("RET1 1", E.unknownCommand),
    CommandCase(" STAT", E.unknownCommand),
    CommandCase("UTF8", E.unknownCommand),
    CommandCase("USER", E.syntax("USER name")),
    CommandCase("USER ", E.syntax("USER name")),
    CommandCase("USER a b", E.syntax("USER name")),
    CommandCase("USER a\u{1}b", E.invalidCharacters("USER")),
    CommandCase("USER a\tb", E.invalidCharacters("USER")),
    CommandCase("PASS", E.syntax("PASS password")),
    CommandCase("PASS ", E.syntax("PASS password")),
    CommandCase("PASS a\u{0}b", E.invalidCharacters("PASS")),
    CommandCase("PASS a\u{7F}", E.invalidCharacters("PASS")),
    CommandCase("APOP mrose", E.syntax("APOP name digest")),
    CommandCase("STAT 1", E.noArguments("STAT")),
    CommandCase("NOOP x", E.noArguments("NOOP")),
    CommandCase("QUIT now", E.noArguments("QUIT")),
    CommandCase("RSET 1", E.noArguments("RSET")),
    CommandCase("CAPA x", E.noArguments("CAPA")),
    CommandCase("STLS x", E.noArguments("STLS")),
    CommandCase("LIST x", E.invalidNumber("message number")),
    CommandCase("LIST -1", E.invalidNumber("message number")),
    CommandCase("LIST +1", E.invalidNumber("message number")),
    CommandCase("LIST 1.0", E.invalidNumber("message number")),
    CommandCase("LIST 1 2", E.syntax("LIST [msg]")),
    CommandCase("UIDL a", E.invalidNumber("message number")),
    CommandCase("UIDL 1 2", E.syntax("UIDL [msg]")),
    CommandCase("RETR", E.syntax("RETR msg")),
    CommandCase("RETR one", E.invalidNumber("message number")),
    CommandCase("RETR 1 2", E.syntax("RETR msg")),
    CommandCase("DELE", E.syntax("DELE msg")),
    CommandCase("DELE ١", E.invalidNumber("message number")),  // Arabic-Indic digit one
    CommandCase("TOP", E.syntax("TOP msg lines")),
    CommandCase("TOP 1", E.syntax("TOP msg lines")),
    CommandCase("TOP 1 2 3", E.syntax("TOP msg lines")),
    CommandCase("TOP x 1", E.invalidNumber("message number")),
    CommandCase("TOP 1 -5", E.invalidNumber("line count")),
    CommandCase("AUTH PLAIN abc", E.invalidBase64),
    CommandCase("AUTH PLAIN ab=c", E.invalidBase64),
    CommandCase("AUTH PLAIN a b", E.syntax("AUTH mechanism [initial-response]")),
    CommandCase("AUTH PL@IN", E.syntax("AUTH mechanism [initial-response]")),
    CommandCase("AUTH ABCDEFGHIJKLMNOPQRSTU", E.syntax("AUTH mechanism [initial-response]")),
]

@Suite("POP3 command parser")
struct POP3CommandParserTests {
    @Test(arguments: validCommands + malformedCommands)
    func table(_ c: CommandCase) {
        for chunking in Chunking.standard {
            let run = runCommandParser(bytes(c.line + "\r\n"), chunking: chunking) { Issue.record("\($0)") }
            #expect(run.results == [c.expected], "\(chunking)")
            #expect(run.leftover.isEmpty)
        }
        // The same line ended by a bare LF (accepted, like Dovecot).
        #expect(runCommandParser(bytes(c.line + "\n"), chunking: .whole).results == [c.expected])
        #expect(POP3CommandParser.parseLine(bytes(c.line)) == c.expected)
    }

    @Test func everyValidCommandRoundTrips() throws {
        for c in validCommands {
            guard case .command(let command) = c.expected, let encoded = command.encoded else { continue }
            #expect(runCommandParser(encoded, chunking: .whole).results == [.command(command)], "\(c.line)")
        }
    }

    @Test func pipelinedCommandsComeOutOneByOne() {
        let input = bytes("USER a\r\nPASS b c\r\nSTAT\r\nLIST\r\nRETR 1\r\nQUIT\r\n")
        let expected: [POP3CommandParser.ParseResult] = [
            .command(.user("a")), .command(.pass("b c")), .command(.stat), .command(.list(nil)), .command(.retr(1)), .command(.quit),
        ]
        for chunking in Chunking.standard {
            #expect(runCommandParser(input, chunking: chunking).results == expected, "\(chunking)")
        }
    }

    @Test func incompleteInputIsLeftIntact() {
        var parser = POP3CommandParser()
        let partial = bytes("RETR 1")
        let (result, consumed) = parser.parse(partial[...])
        #expect(result == .needMoreBytes && consumed == 0)
        let (cr, crConsumed) = parser.parse(bytes("RETR 1\r")[...])
        #expect(cr == .needMoreBytes && crConsumed == 0, "a CR at the end may be followed by LF")
    }

    @Test func bareCarriageReturnIsRejectedAndTheNextLineStillWorks() {
        let input = bytes("STAT\rLIST\r\nNOOP\r\nRETR 1\r\r\n")
        #expect(runCommandParser(input, chunking: .whole).results == [.error(E.bareCarriageReturn), .command(.noop), .error(E.bareCarriageReturn)])
        #expect(POP3CommandParser.parseLine(bytes("STAT\r")) == .error(E.bareCarriageReturn))
    }

    /// RFC 2449 §4: 255 octets including CRLF.
    @Test func commandLineLimit() {
        let longest = "USER " + String(repeating: "a", count: 248)  // 253 + CRLF = 255
        #expect(runCommandParser(bytes(longest + "\r\n"), chunking: .whole).results == [.command(.user(String(repeating: "a", count: 248)))])
        let tooLong = longest + "a"
        for chunking in Chunking.standard {
            let run = runCommandParser(bytes(tooLong + "\r\nNOOP\r\n"), chunking: chunking) { Issue.record("\($0)") }
            #expect(run.results == [.error(E.lineTooLong), .command(.noop)], "\(chunking)")
        }
    }

    @Test func overlongLineIsDiscardedWithoutBuffering() {
        // 1 MiB without a line end, then a command: the parser consumes as it goes.
        var parser = POP3CommandParser()
        let junk = [UInt8](repeating: 0x41, count: 4096)
        for _ in 0..<256 {
            let (result, consumed) = parser.parse(junk[...])
            #expect(result == .needMoreBytes)
            #expect(consumed == junk.count, "an overlong line is discarded, never buffered")
        }
        #expect(parser.isDiscardingOverlongLine)
        var rest = bytes("tail\r\nQUIT\r\n")
        #expect(parser.parse(&rest) == .error(E.lineTooLong))
        #expect(parser.parse(&rest) == .command(.quit))
        #expect(rest.isEmpty)
    }

    @Test func authLinesMayBeLong() {
        let response = String(repeating: "QUJD", count: 2000)  // 8000 octets
        let line = "AUTH PLAIN \(response)\r\n"
        #expect(runCommandParser(bytes(line), chunking: .random(seed: 9, maxChunk: 500)).results
                == [.command(.auth(mechanism: "PLAIN", initialResponse: response))])
        let tooLong = "AUTH PLAIN " + String(repeating: "QUJD", count: 3100) + "\r\nNOOP\r\n"
        #expect(runCommandParser(bytes(tooLong), chunking: .whole).results == [.error(E.lineTooLong), .command(.noop)])
        // Other commands do not get the AUTH limit.
        #expect(runCommandParser(bytes("PASS " + String(repeating: "x", count: 300) + "\r\n"), chunking: .whole).results
                == [.error(E.lineTooLong)])
    }

    @Test func customLimits() {
        let config = POP3CommandParser.Configuration(maxCommandLineLength: 20, maxAuthLineLength: 40)
        #expect(runCommandParser(bytes("USER abcdefghijklm\r\n"), chunking: .whole, configuration: config).results == [.command(.user("abcdefghijklm"))])
        #expect(runCommandParser(bytes("USER abcdefghijklmn\r\n"), chunking: .whole, configuration: config).results == [.error(E.lineTooLong)])
    }

    @Test func controlCharactersAndInvalidUTF8() {
        #expect(POP3CommandParser.parseLine([0x55, 0x53, 0x45, 0x52, 0x20, 0xC3, 0x28]) == .error(E.invalidCharacters("USER")))
        #expect(POP3CommandParser.parseLine([0x50, 0x41, 0x53, 0x53, 0x20, 0xFF]) == .error(E.invalidCharacters("PASS")))
        #expect(POP3CommandParser.parseLine([0x53, 0x54, 0x41, 0x54, 0x00]) == .error(E.unknownCommand))
        #expect(POP3CommandParser.parseLine([0xFF, 0xFE]) == .error(E.unknownCommand))
    }

    // MARK: SASL responses (RFC 5034 §4)

    @Test func authResponses() {
        let input = bytes("dGVzdA==\r\n*\r\n\r\n  QUJD  \r\nnot base64!\r\nQUJ\r\n")
        let expected: [POP3CommandParser.AuthResponse] = [
            .response(bytes("test")), .cancel, .response([]), .response(bytes("ABC")), .error(E.invalidBase64), .error(E.invalidBase64),
        ]
        for chunking in Chunking.standard {
            #expect(runAuthParser(input, chunking: chunking) { Issue.record("\($0)") } == expected, "\(chunking)")
        }
    }

    @Test func authResponseLimit() {
        let ok = String(repeating: "QUJD", count: 3000)  // 12000 + CRLF
        #expect(runAuthParser(bytes(ok + "\r\n"), chunking: .random(seed: 4, maxChunk: 1000)) == [.response(bytes(String(repeating: "ABC", count: 3000)))])
        let tooLong = String(repeating: "QUJD", count: 4000)
        #expect(runAuthParser(bytes(tooLong + "\r\n*\r\n"), chunking: .random(seed: 5, maxChunk: 3000)) == [.error(E.authLineTooLong), .cancel])
    }
}
