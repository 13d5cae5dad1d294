import Foundation
import MailCore
import Testing

@Suite struct MboxTests {
    private static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    private static func date(_ seconds: Int) -> Date { Date(timeIntervalSince1970: TimeInterval(seconds)) }
    /// 2026-11-29T12:00:00Z, a Sunday.
    private static let nov29 = 1_795_953_600

    // MARK: Parsing

    @Test func emptyFileHasNoMessages() throws {
        #expect(try Mbox.parse([]).isEmpty)
        var parser = MboxParser()
        #expect(try parser.feed([UInt8]()).isEmpty)
        #expect(try parser.finish().isEmpty)
    }

    @Test(arguments: [
        "Hello\n",
        "\nFrom a Sun Nov 29 12:00:00 2026\n",
        " From a Sun Nov 29 12:00:00 2026\n",
        "from a Sun Nov 29 12:00:00 2026\n",
        "From:a@example.com\n",
        "Fro",
        ">From a Sun Nov 29 12:00:00 2026\n",
        "Return-Path: <a@example.com>\r\n",
    ])
    func notAnMbox(text: String) {
        #expect(throws: MboxError.notMbox(line: 1)) { try Mbox.parse(Self.bytes(text)) }
    }

    @Test func notAnMboxFailsBeforeTheFirstLineEnds() {
        // A large binary file without LF must not be buffered whole before it is rejected.
        var parser = MboxParser()
        #expect(throws: MboxError.notMbox(line: 1)) { try parser.feed([0x89, 0x50, 0x4E, 0x47]) }
    }

    @Test func oneMessage() throws {
        let file = "From alice@example.com Sun Nov 29 12:00:00 2026\nSubject: hi\n\nbody\n\n"
        let messages = try Mbox.parse(Self.bytes(file))
        #expect(messages == [
            MboxMessage(envelopeSender: "alice@example.com", date: Self.date(Self.nov29), bytes: Self.bytes("Subject: hi\n\nbody\n")),
        ])
    }

    @Test func severalMessagesAndBlankLines() throws {
        let file = """
            From a Sun Nov 29 12:00:00 2026
            A: 1

            one


            From b Sun Nov 29 12:00:01 2026
            B: 2

            From c Sun Nov 29 12:00:02 2026

            From d Sun Nov 29 12:00:03 2026
            last line
            """
        let messages = try Mbox.parse(Self.bytes(file))
        #expect(messages.map(\.envelopeSender) == ["a", "b", "c", "d"])
        #expect(messages.map(\.bytes) == [
            Self.bytes("A: 1\n\none\n\n"),  // the second blank line is the separator
            Self.bytes("B: 2\n"),
            [],
            Self.bytes("last line"),  // no LF at end of file: kept as it is
        ])
        #expect(messages.map(\.date) == (0...3).map { Self.date(Self.nov29 + $0) })
    }

    @Test func fromLineNotAfterBlankLineIsBody() throws {
        let file = "From a Sun Nov 29 12:00:00 2026\nx\nFrom b Sun Nov 29 12:00:00 2026\n\n"
        let messages = try Mbox.parse(Self.bytes(file))
        #expect(messages.count == 1)
        #expect(messages[0].bytes == Self.bytes("x\nFrom b Sun Nov 29 12:00:00 2026\n"))
    }

    @Test func fromLineWithGarbageDateIsStillASeparator() throws {
        let file = "From a Sun Nov 29 12:00:00 2026\none\n\nFrom someone at some time\ntwo\n\nFrom\n"
        let messages = try Mbox.parse(Self.bytes(file))
        #expect(messages.count == 2)
        #expect(messages[1] == MboxMessage(envelopeSender: "someone", date: nil, bytes: Self.bytes("two\n\nFrom\n")))
    }

    @Test func garbageDateOnFirstLine() throws {
        let messages = try Mbox.parse(Self.bytes("From nobody-knows-when\nx\n"))
        #expect(messages == [MboxMessage(envelopeSender: "nobody-knows-when", date: nil, bytes: Self.bytes("x\n"))])
        // The bare minimum: "From " and nothing else.
        #expect(try Mbox.parse(Self.bytes("From ")) == [MboxMessage(envelopeSender: "", date: nil, bytes: [])])
    }

    @Test(arguments: [
        (">From x", "From x"),
        (">>From x", ">From x"),
        (">>>From ", ">>From "),
        (">Fromage", ">Fromage"),
        ("> From x", "> From x"),
        (">", ">"),
        (">From", ">From"),
        ("From x", "From x"),  // mboxo leftovers (not after a blank line) are kept
        ("x>From y", "x>From y"),
    ])
    func unquoting(line: String, expected: String) throws {
        let file = "From a Sun Nov 29 12:00:00 2026\nfirst\n\(line)\n\n"
        let messages = try Mbox.parse(Self.bytes(file))
        #expect(messages.map(\.bytes) == [Self.bytes("first\n\(expected)\n")])
    }

    @Test func crlfFile() throws {
        let file = "From a Sun Nov 29 12:00:00 2026\r\nS: 1\r\n\r\n>From x\r\nlone\rCR\r\n\r\n"
            + "From b Sun Nov 29 12:00:00 2026\r\nS: 2\r\n\r\n"
        let messages = try Mbox.parse(Self.bytes(file))
        #expect(messages.map(\.bytes) == [Self.bytes("S: 1\n\nFrom x\nlone\rCR\n"), Self.bytes("S: 2\n")])
        #expect(messages.map(\.envelopeSender) == ["a", "b"])
        #expect(messages.map(\.date) == [Self.date(Self.nov29), Self.date(Self.nov29)])
    }

    @Test func lfFileKeepsCarriageReturns() throws {
        // Only a CRLF first line makes the file a CRLF mbox; otherwise CRs are message bytes.
        let file = "From a Sun Nov 29 12:00:00 2026\nx\r\n\r\n\n"
        #expect(try Mbox.parse(Self.bytes(file)).map(\.bytes) == [Self.bytes("x\r\n\r\n")])
    }

    @Test func hugeLine() throws {
        let long = [UInt8](repeating: UInt8(ascii: "A"), count: 8 << 20)
        let file = Self.bytes("From a Sun Nov 29 12:00:00 2026\n") + long + [0x0A, 0x0A]
        let messages = try Mbox.parse(file)
        #expect(messages.count == 1)
        #expect(messages[0].bytes == long + [0x0A])

        // The same in small chunks, so the line is carried across thousands of feeds.
        var parser = MboxParser()
        var streamed: [MboxMessage] = []
        var offset = 0
        while offset < file.count {
            let end = min(offset + 4096, file.count)
            streamed += try parser.feed(file[offset..<end])
            offset = end
        }
        streamed += try parser.finish()
        #expect(streamed == messages)
    }

    @Test func messageSizeLimit() {
        let file = Self.bytes("From a Sun Nov 29 12:00:00 2026\n0123456789\n0123456789\n\n")
        #expect(throws: MboxError.messageTooLarge(line: 3, limit: 16)) {
            try Mbox.parse(file, maximumMessageSize: 16)
        }
        // A single endless line is refused while it is still arriving.
        var parser = MboxParser(maximumMessageSize: 100)
        #expect(throws: MboxError.messageTooLarge(line: 2, limit: 100)) {
            _ = try parser.feed(Self.bytes("From a Sun Nov 29 12:00:00 2026\n"))
            _ = try parser.feed([UInt8](repeating: 0x41, count: 101))
        }
        #expect((try? Mbox.parse(file, maximumMessageSize: 22)) != nil)
    }

    @Test func streamingMatchesOneShotForEveryChunkSize() throws {
        let file = Self.bytes(
            "From a Sun Nov 29 12:00:00 2026\r\nA\r\n\r\n>From q\r\n\r\n\r\nFrom b Mon Nov 30 12:00:00 2026\r\nB\r\n\r\n")
        let expected = try Mbox.parse(file)
        #expect(expected.count == 2)
        for chunkSize in 1...file.count {
            var parser = MboxParser()
            var messages: [MboxMessage] = []
            var offset = 0
            while offset < file.count {
                let end = min(offset + chunkSize, file.count)
                messages += try parser.feed(Array(file[offset..<end]))
                offset = end
            }
            messages += try parser.finish()
            #expect(messages == expected, "chunk size \(chunkSize)")
        }
    }

    @Test func parserIsReusableAfterFinish() throws {
        var parser = MboxParser()
        _ = try parser.feed(Self.bytes("From a Sun Nov 29 12:00:00 2026\nx\n\n"))
        #expect(try parser.finish().count == 1)
        _ = try parser.feed(Self.bytes("From b Sun Nov 29 12:00:00 2026\ny\n\n"))
        #expect(try parser.finish() == [MboxMessage(envelopeSender: "b", date: Self.date(Self.nov29), bytes: Self.bytes("y\n"))])
    }

    // MARK: From_ lines and dates

    @Test(arguments: [
        ("From alice@example.com Sun Nov 29 12:00:00 2026", "alice@example.com", nov29),
        ("From MAILER-DAEMON Thu Jan  1 00:00:00 1970", "MAILER-DAEMON", 0),
        ("From b Sun Nov 29 12:00:00 2026 +0100", "b", nov29 - 3600),
        ("From b Sun Nov 29 12:00:00 +0100 2026", "b", nov29 - 3600),
        ("From b Sun Nov 29 12:00:00 2026 -0230", "b", nov29 + 9000),
        ("From b Fri Dec  7 15:59:50 PST 2001", "b", 1_007_769_590),
        ("From b Fri Dec  7 23:59:50 CET 2001", "b", 1_007_769_590),  // unknown name: UTC
        ("From b Sun Nov 29 12:00 2026", "b", nov29),
        ("From b Sun Nov 29 12:00:00 2026 remote from uunet", "b", nov29),
        ("From b Mon Nov 29 12:00:00 99", "b", 943_876_800),
        ("From b sun NOV 29 12:00:00 2026", "b", nov29),
        ("From b\tSun Nov 29 12:00:00 2026", "b", nov29),
        ("From b  Sun Nov 29  12:00:00  2026", "b", nov29),
        ("From \"john doe\"@example.com Sun Nov 29 12:00:00 2026", "\"john doe\"@example.com", nov29),
        ("From Sun Sun Nov 29 12:00:00 2026", "Sun", nov29),
        ("From Sun Nov 29 12:00:00 2026", "", nov29),
        ("From b Tue Feb 29 23:59:59 2000", "b", 951_868_799),
        ("From b Mon Mar  1 00:00:00 2100", "b", 4_107_542_400),
        ("From b Wed Dec 31 23:59:59 1969", "b", -1),
        ("From b Tue Feb 29 00:00:00 1600", "b", -11_670_998_400),
    ])
    func fromLine(line: String, sender: String, seconds: Int) {
        let parsed = Mbox.parseFromLine(line)
        #expect(parsed?.sender == sender)
        #expect(parsed?.date == Self.date(seconds))
    }

    @Test(arguments: [
        ("From b Mon Feb 30 12:00:00 2026", "b"),
        ("From b Sun Feb 29 12:00:00 2100", "b"),
        ("From b Sun Nov 29 24:00:00 2026", "b"),
        ("From b Sun Nov 29 12:60:00 2026", "b"),
        ("From b Sun Nov 29 12:00:61 2026", "b"),
        ("From b Sun Nov 32 12:00:00 2026", "b"),
        ("From b Sun Nov 0 12:00:00 2026", "b"),
        ("From b Sun Nov 29 12:00:00", "b"),
        ("From b Sun Nov 29 2026", "b"),
        ("From b Sun Nov 29 12:00:00 +01 2026", "b"),
        ("From b Sun Nov 29 12:00:00 20266", "b"),
        ("From b Sat, 29 Nov 2026 12:00:00 +0000", "b"),
        ("From b", "b"),
        ("From ", ""),
    ])
    func fromLineWithoutDate(line: String, sender: String) {
        let parsed = Mbox.parseFromLine(line)
        #expect(parsed?.sender == sender)
        #expect(parsed?.date == nil)
    }

    @Test func notAFromLine() {
        #expect(Mbox.parseFromLine("Received: from x") == nil)
        #expect(Mbox.parseFromLine("From:") == nil)
    }

    @Test(arguments: [
        (0, "Thu Jan  1 00:00:00 1970"),
        (nov29, "Sun Nov 29 12:00:00 2026"),
        (1_764_417_600, "Sat Nov 29 12:00:00 2025"),
        (-1, "Wed Dec 31 23:59:59 1969"),
        (951_868_799, "Tue Feb 29 23:59:59 2000"),
        (4_107_542_400, "Mon Mar  1 00:00:00 2100"),
        (-11_670_998_400, "Tue Feb 29 00:00:00 1600"),
        (253_402_300_799, "Fri Dec 31 23:59:59 9999"),
    ])
    func asctimeFormat(seconds: Int, text: String) {
        #expect(AsctimeDate.format(Self.date(seconds)) == text)
        #expect(AsctimeDate.parse(text) == Self.date(seconds))
    }

    @Test func asctimeFormatTruncatesAndClamps() {
        #expect(AsctimeDate.format(Date(timeIntervalSince1970: 0.999)) == "Thu Jan  1 00:00:00 1970")
        #expect(AsctimeDate.format(Date(timeIntervalSince1970: -0.5)) == "Wed Dec 31 23:59:59 1969")
        #expect(AsctimeDate.format(Date(timeIntervalSince1970: 1e300)) == "Fri Dec 31 23:59:59 9999")
        #expect(AsctimeDate.format(Date(timeIntervalSince1970: -.infinity)) == "Mon Jan  1 00:00:00 1")
    }

    @Test func asctimeAgreesWithFoundationCalendar() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var random = SeededRNG(seed: 42)
        let names = ["", "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        for _ in 0..<2000 {
            // 1601...3000: Foundation switches to the Julian calendar before 1582.
            let seconds = Int.random(in: -11_644_473_600...32_503_680_000, using: &random)
            let date = Self.date(seconds)
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
            let day = c.day! < 10 ? " \(c.day!)" : "\(c.day!)"
            let expected = "\(names[c.weekday!]) \(months[c.month!]) \(day) "
                + String(format: "%02d:%02d:%02d %d", c.hour!, c.minute!, c.second!, c.year!)
            #expect(AsctimeDate.format(date) == expected)
            #expect(AsctimeDate.parse(expected) == date)
        }
    }

    // MARK: Writing

    @Test func writeExactBytes() {
        let message = MboxMessage(
            envelopeSender: "alice@example.com", date: Self.date(Self.nov29),
            bytes: Self.bytes("Subject: x\n\nFrom here\n>From there\n>>From afar\nFromage\n"))
        let expected = "From alice@example.com Sun Nov 29 12:00:00 2026\n"
            + "Subject: x\n\n>From here\n>>From there\n>>>From afar\nFromage\n\n"
        #expect(Mbox.write(message) == Self.bytes(expected))
    }

    @Test func writeSenderAndDateFallbacks() {
        let empty = MboxMessage(envelopeSender: "", date: nil, bytes: [])
        #expect(Mbox.write(empty, dateIfMissing: Self.date(0)) == Self.bytes("From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n\n"))
        let spaced = MboxMessage(envelopeSender: "a b\nc", date: Self.date(0), bytes: Self.bytes("x\n"))
        #expect(Mbox.write(spaced) == Self.bytes("From a_b_c Thu Jan  1 00:00:00 1970\nx\n\n"))
    }

    @Test func writeAppendsToExistingOutput() {
        var output = Self.bytes("From a Thu Jan  1 00:00:00 1970\nx\n\n")
        Mbox.write(MboxMessage(envelopeSender: "b", date: Self.date(0), bytes: Self.bytes("y\n")), into: &output)
        #expect(output == Self.bytes("From a Thu Jan  1 00:00:00 1970\nx\n\nFrom b Thu Jan  1 00:00:00 1970\ny\n\n"))
    }

    // MARK: Round trips

    @Test(arguments: [
        "",
        "\n",
        "\n\n",
        "\n\n\n",
        "a\n",
        "a\n\n",
        "\na\n",
        "From x\n",
        "\nFrom x\n",
        ">From x\n\n>From y\n",
        ">>>>From \n",
        "Subject: s\n\nFrom the start\n\nFrom here on\n",
        "From Sun Nov 29 12:00:00 2026\n\n",
        "\n\nFrom a Sun Nov 29 12:00:00 2026\n\n",
    ])
    func roundTrip(body: String) throws {
        let message = MboxMessage(envelopeSender: "s@example.com", date: Self.date(Self.nov29), bytes: Self.bytes(body))
        #expect(try Mbox.parse(Mbox.write(message)) == [message])
        // And as the middle of three messages, where the separators are on both sides.
        let three = Mbox.write(message) + Mbox.write(message) + Mbox.write(message)
        #expect(try Mbox.parse(three) == [message, message, message])
    }

    @Test(arguments: [("a", "a\n"), ("From x", ">From x\n"), ("x\n\ny", "x\n\ny\n"), ("\n\nz", "\n\nz\n")])
    func messageWithoutFinalNewlineGainsOne(body: String, stored: String) throws {
        let message = MboxMessage(envelopeSender: "s", date: Self.date(0), bytes: Self.bytes(body))
        let written = Mbox.write(message)
        #expect(written.suffix(stored.utf8.count + 1) == ArraySlice(Self.bytes(stored + "\n")))
        let expected = MboxMessage(envelopeSender: "s", date: Self.date(0), bytes: Self.bytes(body + "\n"))
        #expect(try Mbox.parse(written) == [expected])
    }

    @Test func storageRoundTrip() throws {
        // What `swallow export` then `swallow import` does: CRLF store -> LF mbox -> CRLF store.
        let stored = Self.bytes("From: a@example.com\r\nSubject: t\r\n\r\nFrom me\r\n>From you\r\n\r\n")
        let message = MboxMessage(envelopeSender: "a@example.com", date: Self.date(Self.nov29), bytes: LineEndings.toLF(stored))
        let imported = try Mbox.parse(Mbox.write(message))
        #expect(imported.map { LineEndings.toCRLF($0.bytes) } == [stored])
    }

    @Test func randomRoundTrips() throws {
        var random = SeededRNG(seed: 0x0B0C_5EED)
        let lines = ["From x", "From ", ">From", ">From ", ">>From y", "", "", "From", " From z", ">", "Fromage"]
        let senders = ["a@example.com", "MAILER-DAEMON", "x", "\"q\"@h", "b@[127.0.0.1]"]
        var all: [MboxMessage] = []
        var file: [UInt8] = []
        for _ in 0..<4000 {
            var body: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &random) {
                if Bool.random(using: &random) {
                    body += Array(lines.randomElement(using: &random)!.utf8)
                } else {
                    // Random bytes, CR and LF excluded: anything else may appear in a body.
                    for _ in 0..<Int.random(in: 0...40, using: &random) {
                        var byte = UInt8.random(in: 0...255, using: &random)
                        while byte == 0x0A || byte == 0x0D { byte = UInt8.random(in: 0...255, using: &random) }
                        body.append(byte)
                    }
                }
                body.append(0x0A)
            }
            let seconds = Int.random(in: -2_000_000_000...5_000_000_000, using: &random)
            let message = MboxMessage(
                envelopeSender: senders.randomElement(using: &random)!, date: Self.date(seconds), bytes: body)
            let written = Mbox.write(message)
            let parsed = try Mbox.parse(written)
            #expect(parsed == [message])
            if parsed != [message] { break }
            all.append(message)
            file += written
        }
        // All of them in one file, read in random chunk sizes.
        var parser = MboxParser()
        var streamed: [MboxMessage] = []
        var offset = 0
        while offset < file.count {
            let end = min(offset + Int.random(in: 1...9000, using: &random), file.count)
            streamed += try parser.feed(file[offset..<end])
            offset = end
        }
        streamed += try parser.finish()
        #expect(streamed == all)
        #expect(try Mbox.parse(file) == all)
    }
}
