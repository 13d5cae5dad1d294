import Testing
import MailCore

@Suite struct MessageHeaderTests {
    @Test func parsesSimpleCRLFHeader() {
        let msg = "From: a@example.com\r\nTo: b@example.com\r\nSubject: Hello\r\n\r\nBody\r\n"
        let (h, offset) = MessageHeader.parse(Array(msg.utf8))
        #expect(h.fields.map(\.name) == ["From", "To", "Subject"])
        #expect(h.fields.map(\.value) == ["a@example.com", "b@example.com", "Hello"])
        #expect(Array(msg.utf8)[offset...].elementsEqual("Body\r\n".utf8))
        #expect(h.fields[2].raw == Array("Subject: Hello\r\n".utf8))
        #expect(h.rawBytes == Array("From: a@example.com\r\nTo: b@example.com\r\nSubject: Hello\r\n".utf8))
    }

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var input: String
        var fields: [(String, String)]
        var body: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "bare LF", input: "A: 1\nB: 2\n\nbody\n", fields: [("A", "1"), ("B", "2")], body: "body\n"),
        Case(name: "folding CRLF", input: "Subject: a\r\n b\r\n\tc\r\n\r\nx", fields: [("Subject", "a b\tc")], body: "x"),
        Case(name: "folding LF", input: "Subject: a\n  b\n\nx", fields: [("Subject", "a  b")], body: "x"),
        Case(name: "no blank line", input: "A: 1\r\nB: 2\r\n", fields: [("A", "1"), ("B", "2")], body: ""),
        Case(name: "no final newline", input: "A: 1\r\nB: 2", fields: [("A", "1"), ("B", "2")], body: ""),
        Case(name: "empty header", input: "\r\nbody", fields: [], body: "body"),
        Case(name: "empty header LF", input: "\nbody", fields: [], body: "body"),
        Case(name: "empty input", input: "", fields: [], body: ""),
        Case(name: "no space after colon", input: "A:1\n\n", fields: [("A", "1")], body: ""),
        Case(name: "empty value", input: "A:\r\nB: \r\n\r\n", fields: [("A", ""), ("B", "")], body: ""),
        Case(name: "obs WSP before colon", input: "Subject  : hi\n\n", fields: [("Subject", "hi")], body: ""),
        Case(name: "line without colon skipped", input: "A: 1\ngarbage line\nB: 2\n\nx", fields: [("A", "1"), ("B", "2")], body: "x"),
        Case(name: "continuation of skipped line skipped", input: "junk\n more junk\nB: 2\n\n", fields: [("B", "2")], body: ""),
        Case(name: "leading continuation skipped", input: " lost: x\nA: 1\n\n", fields: [("A", "1")], body: ""),
        Case(name: "name with space invalid", input: "From someone Mon Jan 1 10:00:00 2024\nA: 1\n\n", fields: [("A", "1")], body: ""),
        Case(name: "colon in value", input: "Date: Mon, 1 Jan 2024 10:00:00 +0000\n\n", fields: [("Date", "Mon, 1 Jan 2024 10:00:00 +0000")], body: ""),
        Case(name: "mixed line ends", input: "A: 1\r\nB: 2\n\r\nbody", fields: [("A", "1"), ("B", "2")], body: "body"),
        Case(name: "blank line is whitespace-only? no: it is a continuation", input: "A: 1\n \nB: 2\n\nz", fields: [("A", "1"), ("B", "2")], body: "z"),
        Case(name: "UTF-8 value", input: "Subject: Grüße 😀\n\n", fields: [("Subject", "Grüße 😀")], body: ""),
        Case(name: "trailing whitespace trimmed", input: "A:   v  \t\n\n", fields: [("A", "v")], body: ""),
    ]

    @Test(arguments: cases)
    func table(_ c: Case) {
        let bytes = Array(c.input.utf8)
        let (h, offset) = MessageHeader.parse(bytes)
        #expect(h.fields.map(\.name) == c.fields.map(\.0))
        #expect(h.fields.map(\.value) == c.fields.map(\.1))
        #expect(String(decoding: bytes[offset...], as: UTF8.self) == c.body)
    }

    @Test func latin1Fallback() {
        var bytes = Array("Subject: caf".utf8)
        bytes.append(0xE9)  // é in ISO-8859-1, invalid as UTF-8
        bytes += Array("\r\n\r\n".utf8)
        let (h, _) = MessageHeader.parse(bytes)
        #expect(h.first("subject")?.value == "café")
        #expect(h.first("subject")?.raw.count == bytes.count - 2)
    }

    @Test func rawKeepsFoldingAndCaseInsensitiveLookup() {
        let msg = "Received: from a\r\n\tby b\r\nreceived: from c\r\nX-Other: 1\r\n\r\n"
        let (h, _) = MessageHeader.parse(Array(msg.utf8))
        #expect(h.all("RECEIVED").map(\.value) == ["from a\tby b", "from c"])
        #expect(h.first("Received")?.raw == Array("Received: from a\r\n\tby b\r\n".utf8))
        #expect(h.first("x-other")?.hasName("X-OTHER") == true)
        #expect(h.first("Missing") == nil)
        #expect(h.rawBytes == Array(msg.utf8.dropLast(2)))
    }

    @Test func bodyOffsetWithSlices() {
        let msg = Array("A: 1\n\nbody".utf8)
        let (h, offset) = MessageHeader.parse(msg[...])
        #expect(h.fields.count == 1)
        #expect(offset == 6)
    }

    @Test func fieldCountLimit() {
        var msg = ""
        for i in 0..<(MessageHeader.maxFieldCount + 10) { msg += "X-\(i): v\n" }
        msg += "\nbody"
        let bytes = Array(msg.utf8)
        let (h, offset) = MessageHeader.parse(bytes)
        #expect(h.fields.count == MessageHeader.maxFieldCount)
        #expect(String(decoding: bytes[offset...], as: UTF8.self) == "body")
    }

    @Test func fieldLengthLimit() {
        let long = "X-Long: " + String(repeating: "a", count: MessageHeader.maxFieldLength) + "\n"
        let bytes = Array((long + "A: 1\n\nbody").utf8)
        let (h, offset) = MessageHeader.parse(bytes)
        #expect(h.fields.map(\.name) == ["A"])
        #expect(String(decoding: bytes[offset...], as: UTF8.self) == "body")
    }

    @Test func generatedField() {
        let f = HeaderField(name: "Subject", value: "Hi")
        #expect(f.raw == Array("Subject: Hi\r\n".utf8))
    }

    @Test func fuzzNeverCrashes() {
        var rng = MailCoreFuzzRNG(seed: 0x5EED_0002)
        let alphabet = Array("AZaz: \t\r\n\r\n-=?\"\u{80}\u{ff}".utf8) + [0xC3, 0xE9, 0x00]
        let seeds = Self.cases.map { Array($0.input.utf8) }
        for n in 0..<4000 {
            let bytes = n % 2 == 0
                ? rng.bytes(maxLength: 200, alphabet: alphabet)
                : rng.mutate(seeds.randomElement(using: &rng)!, alphabet: alphabet)
            let (h, offset) = MessageHeader.parse(bytes)
            #expect(offset >= 0 && offset <= bytes.count)
            // Every kept field's raw bytes appear in order inside the header section.
            var cursor = 0
            for f in h.fields {
                #expect(!f.name.isEmpty)
                #expect(!f.name.contains(":"))
                #expect(f.raw.count <= MessageHeader.maxFieldLength)
                let found = Self.find(f.raw, in: bytes, from: cursor)
                #expect(found != nil && found! + f.raw.count <= offset)
                cursor = (found ?? cursor) + f.raw.count
            }
        }
    }

    /// `fields(named:in:)` (SEARCH's one-field lookup) finds exactly what a full parse does.
    @Test func oneFieldLookupMatchesFullParse() {
        let msg = Array("""
            subject: first\r\nSubjects: not this\r\nSUBJECT : obs\r\n folded\r\nX: y\r\nSubject:\r\n\r\nSubject: in the body\r\n
            """.utf8)
        let found = MessageHeader.fields(named: "Subject", in: msg)
        #expect(found.map(\.value) == ["first", "obs folded", ""])
        #expect(found == MessageHeader.parse(msg).header.all("subject"))
        #expect(MessageHeader.fields(named: "date", in: msg).isEmpty)

        var rng = MailCoreFuzzRNG(seed: 0x5EED_0003)
        let alphabet = Array("SsUuBbJjEeCcTt: \t\r\n\r\n".utf8)
        let seeds = Self.cases.map { Array($0.input.utf8) } + [msg]
        for n in 0..<4000 {
            let bytes = n % 2 == 0
                ? rng.bytes(maxLength: 200, alphabet: alphabet)
                : rng.mutate(seeds.randomElement(using: &rng)!, alphabet: alphabet)
            for name in ["subject", "s", "From"] {
                #expect(MessageHeader.fields(named: name, in: bytes) == MessageHeader.parse(bytes).header.all(name))
            }
        }
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
