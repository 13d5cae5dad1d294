import Testing
@testable import IMAPProtocol

/// APPEND, MULTIAPPEND (RFC 3502), literal8 (RFC 3516), LITERAL+ (RFC 7888), APPENDLIMIT (RFC 7889).
@Suite struct AppendCommandTests {
    /// The message of RFC 3501 §6.3.11's example: 310 octets.
    static let rfcMessage = bytes("""
        Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r
        From: Fred Foobar <foobar@Blurdybloop.COM>\r
        Subject: afternoon meeting\r
        To: mooch@owatagu.siam.edu\r
        Message-Id: <B27397-0100000@Blurdybloop.COM>\r
        MIME-Version: 1.0\r
        Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r
        \r
        Hello Joe, do you think we can meet at 3:30 tomorrow?\r

        """)

    /// A message with UTF-8 in its header fields (RFC 6532), as Thunderbird sends one.
    static let utf8Message = bytes("From: Jürgen <jürgen@example.test>\r\nSubject: Grüße\r\n\r\nHallo\r\n")

    static let second = bytes("Subject: second\r\n\r\nA second message with a line that says\r\nx LOGOUT\r\n")

    static var fixtures: [Fixture] {
        let m = rfcMessage
        return [
            Fixture("RFC 3501 APPEND", bytes("A003 APPEND saved-messages (\\Seen) {\(m.count)}\r\n") + m + bytes("\r\n"),
                    [.needContinuation(literalSize: 310),
                     cmd("A003", .append("saved-messages", messages: [AppendMessage(flags: [.seen], data: m)]))]),
            Fixture("APPEND with date-time", bytes("A004 APPEND saved-messages (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {\(m.count)}\r\n") + m + bytes("\r\n"),
                    [.needContinuation(literalSize: 310),
                     cmd("A004", .append("saved-messages", messages: [AppendMessage(
                        flags: [.seen],
                        internalDate: IMAPDateTime(year: 1996, month: 7, day: 17, hour: 2, minute: 44, second: 25, zoneMinutes: -420),
                        data: m)]))]),
            Fixture("Thunderbird draft", bytes("8 append \"Drafts\" (\\Seen \\Draft $Forwarded) {\(m.count)}\r\n") + m + bytes("\r\n"),
                    [.needContinuation(literalSize: 310),
                     cmd("8", .append("Drafts", messages: [AppendMessage(flags: [.seen, .draft, .forwarded], data: m)]))]),
            Fixture("Apple Mail sent", bytes("12 APPEND \"Sent Messages\" (\\Seen) \" 5-Jan-2024 10:15:00 +0100\" {\(m.count)+}\r\n") + m + bytes("\r\n"),
                    [cmd("12", .append("Sent Messages", messages: [AppendMessage(
                        flags: [.seen],
                        internalDate: IMAPDateTime(year: 2024, month: 1, day: 5, hour: 10, minute: 15, second: 0, zoneMinutes: 60),
                        data: m)]))]),
            Fixture("no flags, no date", bytes("a APPEND INBOX {5+}\r\nhello\r\n"),
                    [cmd("a", .append("INBOX", messages: [AppendMessage(data: bytes("hello"))]))]),
            Fixture("empty flag list", bytes("a APPEND INBOX () {5+}\r\nhello\r\n"),
                    [cmd("a", .append("INBOX", messages: [AppendMessage(data: bytes("hello"))]))]),
            Fixture("MULTIAPPEND", bytes("A003 APPEND saved-messages (\\Seen) {\(m.count)}\r\n") + m
                        + bytes(" (\\Seen) \" 1-Aug-2002 22:00:00 -0700\" {\(second.count)}\r\n") + second + bytes("\r\n"),
                    [.needContinuation(literalSize: m.count), .needContinuation(literalSize: second.count),
                     cmd("A003", .append("saved-messages", messages: [
                        AppendMessage(flags: [.seen], data: m),
                        AppendMessage(flags: [.seen],
                                      internalDate: IMAPDateTime(year: 2002, month: 8, day: 1, hour: 22, minute: 0, second: 0, zoneMinutes: -420),
                                      data: second),
                     ]))]),
            Fixture("literal8 with NUL", bytes("a APPEND INBOX ~{6}\r\n") + [0x61, 0x62, 0x00, 0xFF, 0x0D, 0x0A] + bytes("\r\n"),
                    [.needContinuation(literalSize: 6),
                     cmd("a", .append("INBOX", messages: [AppendMessage(data: [0x61, 0x62, 0x00, 0xFF, 0x0D, 0x0A], isBinary: true)]))]),
            Fixture("literal8 non-synchronizing", bytes("a APPEND INBOX (\\Seen) ~{3+}\r\nx\u{0}y\r\n"),
                    [cmd("a", .append("INBOX", messages: [AppendMessage(flags: [.seen], data: bytes("x\u{0}y"), isBinary: true)]))]),
            Fixture("mailbox as literal", bytes("a APPEND {5}\r\nINBOX {3}\r\nabc\r\n"),
                    [.needContinuation(literalSize: 5), .needContinuation(literalSize: 3),
                     cmd("a", .append("INBOX", messages: [AppendMessage(data: bytes("abc"))]))]),
            // RFC 6855 §4: Thunderbird 153 after ENABLE UTF8=ACCEPT, saving to Sent and Drafts.
            Fixture("Thunderbird UTF8 sent", bytes("13 append \"Sent\" (\\Seen) UTF8 (~{\(utf8Message.count)+}\r\n") + utf8Message + bytes(")\r\n"),
                    [cmd("13", .append("Sent", messages: [AppendMessage(flags: [.seen], data: utf8Message, isBinary: true)]))]),
            Fixture("UTF8 draft, synchronizing, with date", bytes("9 APPEND Drafts (\\Seen \\Draft) \" 5-Jan-2024 10:15:00 +0100\" utf8 (~{\(utf8Message.count)}\r\n") + utf8Message + bytes(")\r\n"),
                    [.needContinuation(literalSize: utf8Message.count),
                     cmd("9", .append("Drafts", messages: [AppendMessage(
                        flags: [.seen, .draft],
                        internalDate: IMAPDateTime(year: 2024, month: 1, day: 5, hour: 10, minute: 15, second: 0, zoneMinutes: 60),
                        data: utf8Message, isBinary: true)]))]),
            Fixture("UTF8 in MULTIAPPEND", bytes("a APPEND INBOX UTF8 (~{5+}\r\nhello) {3+}\r\nabc\r\n"),
                    [cmd("a", .append("INBOX", messages: [AppendMessage(data: bytes("hello"), isBinary: true), AppendMessage(data: bytes("abc"))]))]),
            Fixture("message that looks like commands", bytes("a APPEND INBOX {20+}\r\nb LOGOUT\r\nc NOOP\r\n\r\n\r\nd NOOP\r\n"),
                    [cmd("a", .append("INBOX", messages: [AppendMessage(data: bytes("b LOGOUT\r\nc NOOP\r\n\r\n"))])), cmd("d", .noop)]),
        ]
    }

    @Test(arguments: fixtures) func parses(_ f: Fixture) { check(f) }

    static let small = IMAPCommandParser.Configuration(maxLiteralSize: 100, maxAppendMessageSize: 1000)

    @Test func messageOverAppendLimitIsRejectedWithoutContinuation() {
        let results = Driver.run(bytes("a APPEND INBOX (\\Seen) {1001}\r\nb NOOP\r\n"), configuration: Self.small)
        #expect(results == [.tooBig(tag: "a", message: "Message too large (APPENDLIMIT 1000 octets)"), cmd("b", .noop)])
    }

    @Test func messageAtAppendLimitIsAccepted() {
        let data = [UInt8](repeating: 0x41, count: 1000)
        let results = Driver.run(bytes("a APPEND INBOX {1000}\r\n") + data + bytes("\r\n"), configuration: Self.small)
        #expect(results == [.needContinuation(literalSize: 1000), cmd("a", .append("INBOX", messages: [AppendMessage(data: data)]))])
    }

    @Test func nonSynchronizingMessageOverLimitIsDiscarded() {
        // The literal's bytes arrive anyway and must not be read as commands.
        let data = [UInt8](repeating: 0x41, count: 1990) + bytes("x LOGOUT\r\n")
        let results = Driver.run(bytes("a APPEND INBOX {2000+}\r\n") + data + bytes(" (\\Seen) {3+}\r\nabc\r\nb NOOP\r\n"), configuration: Self.small)
        #expect(results == [.tooBig(tag: "a", message: "Message too large (APPENDLIMIT 1000 octets)"), cmd("b", .noop)])
    }

    @Test func mailboxLiteralUsesTheStringLimit() {
        let results = Driver.run(bytes("a APPEND {200}\r\nb NOOP\r\n"), configuration: Self.small)
        #expect(results == [.tooBig(tag: "a", message: "Literal too large (limit 100 octets)"), cmd("b", .noop)])
    }

    @Test func multiAppendTotalIsBounded() {
        let config = IMAPCommandParser.Configuration(maxLineLength: 100, maxCommandSize: 1000, maxAppendMessageSize: 1000, maxAppendCommandSize: 2500)
        var input = bytes("a APPEND INBOX {1000+}\r\n") + [UInt8](repeating: 0x41, count: 1000)
        input += bytes(" {1000+}\r\n") + [UInt8](repeating: 0x42, count: 1000)
        input += bytes(" {1000+}\r\n") + [UInt8](repeating: 0x43, count: 1000) + bytes("\r\nb NOOP\r\n")
        let results = Driver.run(input, configuration: config)
        #expect(results == [.tooBig(tag: "a", message: "Command too large (limit 2500 octets)"), cmd("b", .noop)])
    }

    /// Rejected before "+": the client does not send the literal, so the next line is a new command.
    @Test func invalidPrefixIsRejectedBeforeContinuation() {
        for (input, part) in [("A APPEND INBOX (\\Seen) \"bad\" {5}\r\nb NOOP\r\n", "day of date-time"),
                              ("A APPEND INBOX (\\Seen \\*) {5}\r\nb NOOP\r\n", "\\* is not a flag")] {
            let results = Driver.run(bytes(input))
            #expect(results.count == 2, "\(results)")
            guard case .error(let tag, let message) = results.first else { Issue.record("\(results)"); continue }
            #expect(tag == "A")
            #expect(message.hasPrefix("APPEND: ") && message.contains(part), "\(message)")
            #expect(results.last == cmd("b", .noop))
        }
    }

    @Test func errors() {
        let cases: [(String, String)] = [
            ("a APPEND INBOX\r\n", "expected SP"),
            ("a APPEND INBOX (\\Seen)\r\n", "expected SP"),
            ("a APPEND INBOX \"hello\"\r\n", "day of date-time"),
            ("a APPEND INBOX (\\Seen) \"31-Feb-2024 00:00:00 +0000\" {1+}\r\nx\r\n", "out of range"),
            ("a APPEND INBOX (\\Seen) \"01-Feb-2024 24:00:00 +0000\" {1+}\r\nx\r\n", "out of range"),
            ("a APPEND INBOX (\\Seen) \"01-Foo-2024 00:00:00 +0000\" {1+}\r\nx\r\n", "month name"),
            ("a APPEND INBOX (\\Seen) \"01-Feb-2024 00:00:00 0000\" {1+}\r\nx\r\n", "zone"),
            ("a APPEND INBOX (\\Seen) hello\r\n", "message literal"),
            ("a APPEND INBOX {1+}\r\nx junk\r\n", "message literal"),
            ("a LOGIN ~{1+}\r\nx y\r\n", "literal8"),
            ("a APPEND INBOX UTF8 {1+}\r\nx)\r\n", "\"(\" of UTF8"),
            ("a APPEND INBOX UTF8 ({1+}\r\nx)\r\n", "literal8 (~{n}) in UTF8"),
            ("a APPEND INBOX UTF8 (~{1+}\r\nx\r\n", "\")\" of UTF8"),
            ("a LOGIN ~{1}\r\n", "literal8"),
        ]
        for (input, part) in cases {
            let results = Driver.run(bytes(input + "z NOOP\r\n"))
            #expect(results.count == 2, "\(input): \(results)")
            #expect(errorMessage(results)?.contains(part) == true, "\(input): \(results)")
            #expect(results.last == cmd("z", .noop))
        }
    }
}
