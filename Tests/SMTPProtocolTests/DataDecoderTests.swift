import SMTPProtocol
import Testing

@Suite("DATA decoder (RFC 5321 §4.5.2, SMTP smuggling)")
struct DataDecoderTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var input: String
        /// Expected kind: "complete", "rejected(bareLineFeed)", "rejected(bareCarriageReturn)",
        /// "tooLarge", "needMoreBytes".
        var kind: String
        /// Octets of `input` that belong to DATA (when not needMoreBytes).
        var consumed: Int?
        /// Expected message (only checked for "complete" and "needMoreBytes").
        var message: String?
        var maxMessageSize = 1 << 20
        var testDescription: String { input.debugDescription }
    }

    static let cases: [Case] = [
        // Ordinary messages and dot-unstuffing.
        Case(input: ".\r\n", kind: "complete", consumed: 3, message: ""),
        Case(input: "Hello\r\n.\r\n", kind: "complete", consumed: 10, message: "Hello\r\n"),
        Case(input: "\r\n.\r\n", kind: "complete", consumed: 5, message: "\r\n"),
        Case(input: "a\r\nb\r\n\r\nc\r\n.\r\n", kind: "complete", consumed: 14, message: "a\r\nb\r\n\r\nc\r\n"),
        Case(input: "..dot\r\n.\r\n", kind: "complete", consumed: 10, message: ".dot\r\n"),
        Case(input: ".x\r\n.\r\n", kind: "complete", consumed: 7, message: "x\r\n"),
        Case(input: "a\r\n..\r\n.\r\n", kind: "complete", consumed: 10, message: "a\r\n.\r\n"),
        Case(input: "a\r\n...\r\n.\r\n", kind: "complete", consumed: 11, message: "a\r\n..\r\n"),
        Case(input: "a.b\r\n.c\r\n.\r\n", kind: "complete", consumed: 12, message: "a.b\r\nc\r\n"),
        Case(input: "x\r\n . \r\n.\r\n", kind: "complete", consumed: 11, message: "x\r\n . \r\n"),
        Case(input: "x\r\n.\r\n.\r\n", kind: "complete", consumed: 6, message: "x\r\n"),
        Case(input: "x\r\n.\r\nQUIT\r\n", kind: "complete", consumed: 6, message: "x\r\n"),
        Case(input: "Grüße\r\n.\r\n", kind: "complete", consumed: 12, message: "Grüße\r\n"),
        Case(input: "tab\tand\u{0}nul\r\n.\r\n", kind: "complete", consumed: 16, message: "tab\tand\u{0}nul\r\n"),
        // Not finished yet.
        Case(input: "", kind: "needMoreBytes", message: ""),
        Case(input: "abc", kind: "needMoreBytes", message: "abc"),
        Case(input: "abc\r\n", kind: "needMoreBytes", message: "abc\r\n"),
        Case(input: "abc\r\n.", kind: "needMoreBytes", message: "abc\r\n"),
        Case(input: "abc\r\n.\r", kind: "needMoreBytes", message: "abc\r\n"),
        Case(input: "abc\r", kind: "needMoreBytes", message: "abc"),
        Case(input: "a\r\n.\r\r\n", kind: "needMoreBytes"),
        // SMTP smuggling: none of these end the message; each is rejected at the real end.
        Case(input: "a\n.\nb\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 10),
        Case(input: "a\n.\r\nb\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 11),
        Case(input: "a\r.\rb\r\n.\r\n", kind: "rejected(bareCarriageReturn)", consumed: 10),
        Case(input: "a\r\n.\nb\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 11),
        Case(input: "a\r.\r\nb\r\n.\r\n", kind: "rejected(bareCarriageReturn)", consumed: 11),
        Case(input: "\n.\r\nx\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 10),
        Case(input: ".\n.\r\n", kind: "needMoreBytes"),
        Case(input: ".\r.\r\n.\r\n", kind: "rejected(bareCarriageReturn)", consumed: 8),
        Case(input: "a\n.\n", kind: "needMoreBytes"),
        Case(input: "a\r\n.\n", kind: "needMoreBytes"),
        Case(input: "a\r.\r", kind: "needMoreBytes"),
        Case(input: "a\n.\r\n", kind: "needMoreBytes"),
        Case(input: "a\r\nMAIL FROM:<x@y>\n.\nRCPT TO:<z@w>\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 39),
        // Bare CR / LF anywhere, then a real end.
        Case(input: "a\r\r\n.\r\n", kind: "rejected(bareCarriageReturn)", consumed: 7),
        Case(input: "a\nb\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 8),
        Case(input: "a\rb\r\n.\r\n", kind: "rejected(bareCarriageReturn)", consumed: 8),
        Case(input: "\r\r\n.\r\n", kind: "rejected(bareCarriageReturn)", consumed: 6),
        Case(input: "\n\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 6),
        Case(input: "a\n\rb\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 9),
        Case(input: "a\r\n.x\ry\r\n.\r\n", kind: "rejected(bareCarriageReturn)", consumed: 12),
        // Size: counted after unstuffing; exactly the limit is fine, one more is too large.
        Case(input: "12345\r\n.\r\n", kind: "complete", consumed: 10, message: "12345\r\n", maxMessageSize: 7),
        Case(input: "12345\r\n.\r\n", kind: "tooLarge", consumed: 10, maxMessageSize: 6),
        Case(input: "..345\r\n.\r\n", kind: "complete", consumed: 10, message: ".345\r\n", maxMessageSize: 6),
        Case(input: ".\r\n", kind: "complete", consumed: 3, message: "", maxMessageSize: 0),
        Case(input: "x\r\n.\r\n", kind: "tooLarge", consumed: 6, maxMessageSize: 0),
        // A bare line ending takes precedence over size.
        Case(input: "123456\n\r\n.\r\n", kind: "rejected(bareLineFeed)", consumed: 12, maxMessageSize: 3),
    ]

    @Test("decode, whole and in every chunking", arguments: cases)
    func decode(_ c: Case) {
        let input = bytes(c.input)
        var reference: DataRun?
        for chunking in Chunking.standard {
            let run = runDataDecoder(input, chunking: chunking, maxMessageSize: c.maxMessageSize)
            #expect(run.result.kind == c.kind, "\(chunking)")
            if let consumed = c.consumed { #expect(run.absoluteConsumed == consumed, "\(chunking)") }
            if let message = c.message { #expect(run.output == bytes(message), "\(chunking)") }
            #expect(run.output.count <= c.maxMessageSize)
            if let reference { #expect(run == reference, "\(chunking) differs from whole") } else { reference = run }
        }
    }

    @Test("rejection replies")
    func rejectionReplies() {
        #expect(DataRejection.bareLineFeed.reply.code == 554)
        #expect(DataRejection.bareLineFeed.reply.enhanced == EnhancedStatus(5, 6, 0))
        #expect(DataRejection.bareCarriageReturn.reply.text.contains("bare <CR>"))
    }

    @Test("a rejected or oversized message stops growing memory")
    func stopsStoring() {
        var decoder = DataDecoder(maxMessageSize: 100)
        var output: [UInt8] = []
        let line = [UInt8](repeating: 0x61, count: 78) + [13, 10]
        for _ in 0..<1000 {
            #expect(decoder.decode(line, into: &output) == .needMoreBytes)
        }
        #expect(output.count <= 100)
        #expect(decoder.exceededSize)
        #expect(decoder.messageSize == 80_000)
        #expect(decoder.decode(bytes(".\r\nQUIT\r\n"), into: &output) == .tooLarge(consumed: 3))
        #expect(decoder.isFinished)
        // After the end nothing more is consumed.
        #expect(decoder.decode(bytes("QUIT\r\n"), into: &output) == .tooLarge(consumed: 0))

        var smuggled = DataDecoder(maxMessageSize: 1 << 20)
        output = []
        #expect(smuggled.decode(bytes("first\n.\n"), into: &output) == .needMoreBytes)
        let before = output.count
        for _ in 0..<100 { _ = smuggled.decode(line, into: &output) }
        #expect(output.count == before)
        #expect(smuggled.rejection == .bareLineFeed)
        #expect(smuggled.decode(bytes(".\r\n"), into: &output) == .rejected(.bareLineFeed, consumed: 3))
    }

    @Test("the caller may flush output between chunks")
    func flushing() {
        var decoder = DataDecoder(maxMessageSize: 10)
        var output: [UInt8] = []
        var total: [UInt8] = []
        for chunk in ["0123", "4567\r", "\n.", "\r\n"] {
            let r = decoder.decode(bytes(chunk), into: &output)
            total += output
            output.removeAll()
            if chunk == "\r\n" { #expect(r == .complete(consumed: 2)) } else { #expect(r == .needMoreBytes) }
        }
        #expect(total == bytes("01234567\r\n"))
    }

    @Test("a large body is copied in bulk and decoded correctly")
    func largeBody() {
        var rng = SeededRNG(seed: 77)
        var message: [UInt8] = []
        while message.count < 1_000_000 {
            let length = Int.random(in: 0...200, using: &rng)
            var line = (0..<length).map { _ in UInt8.random(in: 0x20...0x7E, using: &rng) }
            if Int.random(in: 0..<10, using: &rng) == 0 { line.insert(asciiDotForTests, at: 0) }
            message += line + [13, 10]
        }
        let stuffed = try! DataEncoder.stuff(message)
        for chunking in [Chunking.whole, .random(seed: 8, maxChunk: 65536), .random(seed: 9, maxChunk: 5)] {
            let run = runDataDecoder(stuffed, chunking: chunking, maxMessageSize: 2_000_000)
            #expect(run.result.kind == "complete")
            #expect(run.absoluteConsumed == stuffed.count)
            #expect(run.output == message)
        }
    }
}

let asciiDotForTests: UInt8 = 0x2E

@Suite("DATA encoder (dot-stuffing)")
struct DataEncoderTests {
    @Test("stuff", arguments: [
        ("", ".\r\n"),
        ("abc", "abc\r\n.\r\n"),
        ("abc\r\n", "abc\r\n.\r\n"),
        (".", "..\r\n.\r\n"),
        (".\r\n", "..\r\n.\r\n"),
        ("a\r\n.b\r\n", "a\r\n..b\r\n.\r\n"),
        ("a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"),
        ("..\r\n\r\n.", "...\r\n\r\n..\r\n.\r\n"),
        ("\r\n", "\r\n.\r\n"),
        ("a.b\r\n", "a.b\r\n.\r\n"),
    ])
    func stuff(_ c: (String, String)) throws {
        #expect(try DataEncoder.stuff(bytes(c.0)) == bytes(c.1))
    }

    @Test("refuses bare line endings", arguments: [
        ("a\nb", DataEncodingError.bareLineFeed(offset: 1)),
        ("\n", .bareLineFeed(offset: 0)),
        ("a\rb", .bareCarriageReturn(offset: 1)),
        ("abc\r", .bareCarriageReturn(offset: 3)),
        ("a\r\nb\r\rc", .bareCarriageReturn(offset: 4)),
        ("a\r\n\n", .bareLineFeed(offset: 3)),
    ])
    func refuses(_ c: (String, DataEncodingError)) {
        #expect(throws: c.1) { try DataEncoder.stuff(bytes(c.0)) }
        // The same when streamed byte by byte.
        var encoder = DataEncoder()
        var out: [UInt8] = []
        #expect(throws: c.1) {
            for b in bytes(c.0) { try encoder.encode([b], into: &out) }
            try encoder.finish(into: &out)
        }
    }

    @Test("streaming equals one-shot, and decoding undoes stuffing")
    func streamingAndRoundTrip() throws {
        var rng = SeededRNG(seed: 2024)
        let alphabet: [UInt8] = Array("ab.".utf8) + [0x20]
        for _ in 0..<500 {
            var message: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                message += (0..<Int.random(in: 0...6, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
                message += [13, 10]
            }
            if Bool.random(using: &rng) { message += [alphabet.randomElement(using: &rng)!] }
            let oneShot = try DataEncoder.stuff(message)
            var encoder = DataEncoder()
            var streamed: [UInt8] = []
            for chunk in Chunking.random(seed: rng.next(), maxChunk: 4).split(message) {
                try encoder.encode(chunk, into: &streamed)
            }
            try encoder.finish(into: &streamed)
            #expect(streamed == oneShot)
            let run = runDataDecoder(oneShot, chunking: .random(seed: rng.next(), maxChunk: 5))
            #expect(run.result.kind == "complete")
            #expect(run.absoluteConsumed == oneShot.count)
            let expected = message.isEmpty || message.suffix(2) == [13, 10] ? message : message + [13, 10]
            #expect(run.output == expected)
        }
    }
}

@Suite("BDAT chunk reader (RFC 3030)")
struct BDATChunkReaderTests {
    @Test("counts exactly N octets across reads, binary-safe")
    func counts() {
        var reader = BDATChunkReader(chunkSize: 10)
        let binary: [UInt8] = [0, 13, 10, 0x2E, 13, 10, 255, 10, 13]
        let first = reader.read(binary[...])
        #expect(first == binary[...])
        #expect(reader.remaining == 1)
        #expect(!reader.isComplete)
        let tail = bytes("XRSET\r\n")
        let second = reader.read(tail[...])
        #expect(second == tail.prefix(1))
        #expect(reader.isComplete)
        #expect(reader.read(tail[1...]).isEmpty)
    }

    @Test("zero-length chunk and raw buffers")
    func zero() {
        var reader = BDATChunkReader(chunkSize: 0)
        #expect(reader.isComplete)
        #expect(bytes("abc").withUnsafeBytes { reader.read($0) } == 0)
        var reader2 = BDATChunkReader(chunkSize: 5)
        #expect(bytes("abc").withUnsafeBytes { reader2.read($0) } == 3)
        #expect(bytes("defgh").withUnsafeBytes { reader2.read($0) } == 2)
        #expect(reader2.isComplete)
    }

    @Test("random chunking always yields exactly the chunk")
    func random() {
        var rng = SeededRNG(seed: 3030)
        for _ in 0..<200 {
            let size = Int.random(in: 0...300, using: &rng)
            let stream = (0..<(size + 50)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var reader = BDATChunkReader(chunkSize: size)
            var collected: [UInt8] = []
            var rest: [UInt8] = []
            for chunk in Chunking.random(seed: rng.next(), maxChunk: 40).split(stream) {
                let part = reader.read(chunk[...])
                collected += part
                rest += chunk[(chunk.startIndex + part.count)...]
            }
            #expect(collected == Array(stream.prefix(size)))
            #expect(rest == Array(stream.dropFirst(size)))
        }
    }
}
