import LineFraming
import Testing

/// The one framing loop of the line protocols: every rule on its own, then fed in random
/// chunks against the same input fed whole.
@Suite struct LineFramerTests {
    /// Frames everything in `input`, `chunk` bytes arriving at a time, as a handler would.
    static func frames(_ input: String, lineEnd: LineFramer.LineEnd, limit: Int, chunk: Int = .max) -> [String] {
        var framer = LineFramer(lineEnd: lineEnd)
        var buffer: [UInt8] = []
        var out: [String] = []
        let bytes = Array(input.utf8)
        var offset = 0
        while offset < bytes.count || !buffer.isEmpty {
            let take = min(chunk, bytes.count - offset)
            buffer += bytes[offset..<offset + take]
            offset += take
            while true {
                let (frame, consumed) = buffer.withUnsafeBufferPointer { framer.frame($0, limit: limit) }
                let line = buffer.prefix(consumed)
                buffer.removeFirst(consumed)
                switch frame {
                case .line(let r): out.append("line:" + String(decoding: line[r], as: UTF8.self))
                case .rejected(let e): out.append("error:\(e)")
                case .needMoreBytes: break
                }
                if case .needMoreBytes = frame { break }
            }
            if take == 0 { break }
        }
        return out
    }

    @Test func crlfLinesAndTheirErrors() {
        #expect(Self.frames("EHLO a\r\nMAIL\nRCPT\rX\r\nQUIT\r\n", lineEnd: .crlf, limit: 64)
                == ["line:EHLO a", "error:bareLineFeed", "error:bareCarriageReturn", "line:QUIT"])
        #expect(Self.frames("USER a\nPASS b\r\nX\rY\n", lineEnd: .crlfOrLF, limit: 64)
                == ["line:USER a", "line:PASS b", "error:bareCarriageReturn"])
    }

    @Test func overlongLinesAreDiscardedThroughTheirLineFeed() {
        let long = String(repeating: "x", count: 100)
        for chunk in [1, 3, 7, 64, .max] {
            #expect(Self.frames("\(long)\r\nNOOP\r\n", lineEnd: .crlf, limit: 16, chunk: chunk)
                    == ["error:tooLong", "line:NOOP"], "chunk \(chunk)")
        }
        // Exactly at the limit (line end included) is fine; one more is not.
        #expect(Self.frames("0123456789abcd\r\n", lineEnd: .crlf, limit: 16) == ["line:0123456789abcd"])
        #expect(Self.frames("0123456789abcde\r\n", lineEnd: .crlf, limit: 16) == ["error:tooLong"])
    }

    @Test func neverAsksToBufferMoreThanTheLimit() {
        var framer = LineFramer(lineEnd: .crlf)
        let junk = [UInt8](repeating: 0x41, count: 1000)
        let (frame, consumed) = junk.withUnsafeBufferPointer { framer.frame($0, limit: 100) }
        #expect(frame == .needMoreBytes && consumed == 1000 && framer.isDiscardingOverlongLine)
    }

    @Test func saslResponseLines() {
        func parse(_ s: String) -> SASLResponseLine {
            Array(s.utf8).withUnsafeBufferPointer { SASLResponseLine.parse($0, 0..<$0.count) }
        }
        #expect(parse("dGVzdA==") == .response(Array("test".utf8)))
        #expect(parse(" dGVzdA== \t") == .response(Array("test".utf8)))
        #expect(parse("") == .response([]))
        #expect(parse("*") == .cancel)
        for bad in ["dGVzdA=", "dGV=zdA=", "dGVzd!==", "a", "**"] { #expect(parse(bad) == .invalidBase64, "\(bad)") }
    }

    @Test func base64RoundTripsAndIsStrict() {
        var rng = SystemRandomNumberGenerator()
        for n in 0..<64 {
            let data = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(Base64.decode(Base64.encode(data)) == data)
        }
        #expect(Base64.encodedString(Array("\u{0}alice\u{0}pw".utf8)) == "AGFsaWNlAHB3")
        #expect(Base64.decode("YQ") == nil)
        #expect(Base64.decode("YQ=a") == nil)
    }
}
