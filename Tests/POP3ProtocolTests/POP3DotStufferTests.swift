import POP3Protocol
import Testing

struct StuffCase: Sendable, CustomTestStringConvertible {
    var input: String
    var wire: String
    init(_ input: String, _ wire: String) { self.input = input; self.wire = wire }
    var testDescription: String { input.debugDescription }
}

let stuffCases: [StuffCase] = [
    StuffCase("", ".\r\n"),
    StuffCase("Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n"),
    // RFC 1939 §3: a line beginning with the termination octet gets another one.
    StuffCase(".\r\n", "..\r\n.\r\n"),
    StuffCase("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"),
    StuffCase("..two\r\n", "...two\r\n.\r\n"),
    StuffCase("a\r\n.b\r\n..c\r\n", "a\r\n..b\r\n...c\r\n.\r\n"),
    StuffCase("no dot. in.middle\r\n", "no dot. in.middle\r\n.\r\n"),
    // An unterminated last line gets its CRLF before the terminator.
    StuffCase("last line", "last line\r\n.\r\n"),
    StuffCase(".", "..\r\n.\r\n"),
    StuffCase("a\r", "a\r\n.\r\n"),
    // Bare LF is sent as CRLF (never a bare LF on the wire); bare CR passes through.
    StuffCase("a\nb\n", "a\r\nb\r\n.\r\n"),
    StuffCase("a\n.\n", "a\r\n..\r\n.\r\n"),
    StuffCase("\n.", "\r\n..\r\n.\r\n"),
    StuffCase("a\rb\r\n", "a\rb\r\n.\r\n"),
    StuffCase("a\r.b\r\n", "a\r.b\r\n.\r\n"),
    StuffCase("\r\n\r\n.\r\n", "\r\n\r\n..\r\n.\r\n"),
]

@Suite("POP3 dot-stuffing and TOP")
struct POP3DotStufferTests {
    @Test(arguments: stuffCases)
    func table(_ c: StuffCase) {
        for chunking in Chunking.standard {
            #expect(text(stuffed(bytes(c.input), chunking: chunking)) == c.wire, "\(chunking)")
        }
    }

    @Test func encodeMessageWritesAWholeResponse() {
        var out: [UInt8] = []
        POP3DotStuffer.encodeMessage(.ok("12 octets"), bytes("A: b\r\n\r\n.x\r\n"), into: &out)
        #expect(text(out) == "+OK 12 octets\r\nA: b\r\n\r\n..x\r\n.\r\n")
        var fromSlice: [UInt8] = []
        POP3DotStuffer.encodeMessage(.ok(), bytes("x.\r\n.y")[1...], into: &fromSlice)
        #expect(text(fromSlice) == "+OK\r\n..\r\n..y\r\n.\r\n")
    }

    @Test func stufferCountsRepairsAndResets() {
        var stuffer = POP3DotStuffer()
        var out: [UInt8] = []
        bytes("a\nb\r\nc\n").withUnsafeBytes { stuffer.stuff($0, into: &out) }
        #expect(stuffer.repairedLineFeeds == 2)
        stuffer.finish(into: &out)
        // After finish the stuffer is at a line start again: a second message starts clean.
        bytes(".x").withUnsafeBytes { stuffer.stuff($0, into: &out) }
        stuffer.finish(into: &out)
        #expect(text(out) == "a\r\nb\r\nc\r\n.\r\n..x\r\n.\r\n")
    }

    /// A large message: the result parses back to the input, whatever the chunk sizes.
    @Test func largeMessageRoundTrips() throws {
        var rng = SeededRNG(seed: 77)
        var message: [UInt8] = bytes("From: a@b\r\nSubject: big\r\n\r\n")
        while message.count < 3_000_000 {
            let kind = Int.random(in: 0..<10, using: &rng)
            if kind == 0 { message += bytes(".\r\n") } else if kind == 1 { message += bytes("..dots\r\n") } else {
                message += [UInt8](repeating: UInt8.random(in: 0x21...0x7E, using: &rng), count: Int.random(in: 0...998, using: &rng)) + [0x0D, 0x0A]
            }
        }
        for chunking in [Chunking.whole, .random(seed: 8, maxChunk: 65536)] {
            let wire = stuffed(message, chunking: chunking)
            let back = try #require(unstuff(wire))
            #expect(back.text == message && back.trailing == 0, "\(chunking)")
        }
    }

    // MARK: TOP (RFC 1939 §7)

    static let message = "From: a@b\r\nSubject: s\r\n\r\nline 1\r\nline 2\r\n.line 3\r\n"

    @Test(arguments: [
        (0, "From: a@b\r\nSubject: s\r\n\r\n"),
        (1, "From: a@b\r\nSubject: s\r\n\r\nline 1\r\n"),
        (2, "From: a@b\r\nSubject: s\r\n\r\nline 1\r\nline 2\r\n"),
        (3, POP3DotStufferTests.message),
        (100, POP3DotStufferTests.message),
        (Int.max, POP3DotStufferTests.message),
        (-1, "From: a@b\r\nSubject: s\r\n\r\n"),
    ])
    func topLength(lines: Int, expected: String) {
        let m = bytes(Self.message)
        #expect(text(Array(m[0..<POP3MessageText.topLength(m, bodyLines: lines)])) == expected)
    }

    @Test func topOfOddMessages() {
        // No blank line: all header, sent whole.
        #expect(POP3MessageText.topLength(bytes("A: b\r\nC: d\r\n"), bodyLines: 0) == 12)
        #expect(POP3MessageText.topLength(bytes("A: b"), bodyLines: 0) == 4)
        #expect(POP3MessageText.topLength([], bodyLines: 5) == 0)
        // Starts with the blank line: no header.
        #expect(POP3MessageText.topLength(bytes("\r\nbody\r\nmore\r\n"), bodyLines: 1) == 8)
        // Bare LF line ends count too.
        #expect(POP3MessageText.topLength(bytes("A: b\n\nx\ny\n"), bodyLines: 1) == 8)
        // Last body line without a line end.
        #expect(POP3MessageText.topLength(bytes("A: b\r\n\r\nx"), bodyLines: 1) == 9)
    }
}
