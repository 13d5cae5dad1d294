import Testing
@testable import IMAPProtocol

/// Seeded fuzzing of every parser entry point: random and mutated inputs must never crash or
/// hang, consumption never exceeds the input, results do not depend on chunking, and memory
/// stays within the configured limits (DESIGN.md §4, §5.9).
@Suite struct FuzzTests {
    static let small = IMAPCommandParser.Configuration(
        maxLineLength: 200, maxLiteralSize: 100, maxCommandSize: 1000, maxAppendMessageSize: 500,
        maxAppendCommandSize: 1500, maxNestingDepth: 8, maxSequenceRanges: 20, maxDiscardedLiteralSize: 5000)

    static var corpus: [[UInt8]] { ChunkingTests.allFixtures.map(\.input).filter { $0.count < 4000 } }

    static let specials: [UInt8] = Array("{}()[]<>\"\\ \r\n+~*%$:,.0123456789-".utf8) + [0, 0x80, 0xC3, 0xFF]
    static let tokens: [String] = [
        "a", "A1", "*", "+", " ", " ", " ", "\r\n", "\r\n", "\n", "(", ")", "[", "]", "<0.10>", "{", "}",
        "UID", "FETCH", "SEARCH", "STORE", "APPEND", "LOGIN", "SELECT", "LIST", "STATUS", "COPY", "MOVE",
        "NOOP", "ID", "ENABLE", "AUTHENTICATE", "CREATE", "IDLE", "EXPUNGE", "RENAME", "GETQUOTA", "SETQUOTA",
        "BODY.PEEK[", "BODY[", "HEADER.FIELDS", "(From To)", "BINARY[1]", "FLAGS", "+FLAGS.SILENT", "\\Seen",
        "$Junk", "1:*", "1,2:4", "$", "4294967296", "0", "NOT", "OR", "SINCE", "1-Jan-2024", "\"x\"",
        "\"\\\"\"", "\"unterminated", "INBOX", "RETURN", "(MIN MAX)", "CHARSET", "UTF-8", "(QRESYNC (1 2 1:5))",
        "(CHANGEDSINCE 5 VANISHED)", "(UNCHANGEDSINCE 0)", "{3}\r\nabc", "{3+}\r\nabc", "~{2}\r\n\u{0}x",
        "{0}\r\n", "{120+}\r\n", "{999999+}\r\n", "{99999999999999999999}\r\n", "\" 5-Jan-2024 10:15:00 +0100\"",
        "NIL", "=", "AGFsaWNl", "MODSEQ", "\"/flags/\\\\seen\"", "all",
    ]

    static func mutate(_ input: [UInt8], _ rng: inout SeededRNG) -> [UInt8] {
        var s = input
        for _ in 0..<Int.random(in: 1...6, using: &rng) {
            let pos = s.isEmpty ? 0 : Int.random(in: 0...s.count, using: &rng)
            switch Int.random(in: 0..<9, using: &rng) {
            case 0 where !s.isEmpty && pos < s.count:
                s[pos] = UInt8.random(in: 0...255, using: &rng)
            case 1:
                s.insert(specials.randomElement(using: &rng)!, at: pos)
            case 2 where !s.isEmpty:
                let end = min(s.count, pos + Int.random(in: 1...20, using: &rng))
                if pos < end { s.removeSubrange(pos..<end) }
            case 3 where !s.isEmpty:
                let end = min(s.count, pos + Int.random(in: 1...40, using: &rng))
                if pos < end { s.insert(contentsOf: Array(s[pos..<end]), at: pos) }
            case 4:
                let n = [0, 1, 5, 99, 100, 101, 499, 501, 5001, 1 << 40].randomElement(using: &rng)!
                let header = ["{\(n)}", "{\(n)+}", "~{\(n)}", "~{\(n)+}"].randomElement(using: &rng)!
                s.insert(contentsOf: bytes(header + "\r\n"), at: pos)
            case 5:
                s.insert(contentsOf: bytes(tokens.randomElement(using: &rng)!), at: pos)
            case 6 where !s.isEmpty:
                s.removeSubrange(min(pos, s.count)...)
            case 7:
                s.insert(contentsOf: [UInt8](repeating: specials.randomElement(using: &rng)!, count: Int.random(in: 1...300, using: &rng)), at: pos)
            default:
                s.insert(contentsOf: bytes("\r\n"), at: pos)
            }
        }
        return s
    }

    static func tokenSoup(_ rng: inout SeededRNG) -> [UInt8] {
        var s = bytes(["a1 ", "b ", "", "c UID "].randomElement(using: &rng)!)
        for _ in 0..<Int.random(in: 1...30, using: &rng) {
            s += bytes(tokens.randomElement(using: &rng)!)
        }
        return s + bytes("\r\n")
    }

    /// Runs `input` through a checking driver and returns its results; also checks memory.
    static func exercise(_ input: [UInt8], _ chunking: Chunking, _ config: IMAPCommandParser.Configuration) -> [PR] {
        var d = Driver(configuration: config)
        var offset = 0
        let bound = config.maxAppendCommandSize + config.maxLineLength + 64
        for n in chunking.split(input.count) {
            d.feed(Array(input[offset..<(offset + n)]))
            offset += n
            #expect(d.parser.bufferedByteCount <= bound)
        }
        // Every call either consumes all input or returns a result that consumed at least one byte.
        #expect(d.calls <= input.count + chunking.split(input.count).count + 1)
        return d.results
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func mutatedInputs(seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        let corpus = Self.corpus
        for iteration in 0..<800 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) { input += corpus.randomElement(using: &rng)! }
            input = Self.mutate(input, &rng)
            let config = iteration % 3 == 0 ? IMAPCommandParser.Configuration.default : Self.small
            let whole = Self.exercise(input, .whole, config)
            let chunked = Self.exercise(input, .random(seed: seed &+ UInt64(iteration), maxChunk: 13), config)
            #expect(whole == chunked, "seed \(seed) iteration \(iteration) input \(input)")
            if whole != chunked { return }
        }
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func tokenSoupInputs(seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        for iteration in 0..<800 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 1...4, using: &rng) { input += Self.tokenSoup(&rng) }
            let config = iteration % 2 == 0 ? IMAPCommandParser.Configuration.default : Self.small
            let whole = Self.exercise(input, .whole, config)
            let bytewise = Self.exercise(input, .byteByByte, config)
            #expect(whole == bytewise, "seed \(seed) iteration \(iteration)")
            if whole != bytewise { return }
        }
    }

    @Test func randomBytes() {
        var rng = SeededRNG(seed: 99)
        for iteration in 0..<500 {
            let n = Int.random(in: 0...3000, using: &rng)
            let input = (0..<n).map { _ in
                Bool.random(using: &rng) ? Self.specials.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            let whole = Self.exercise(input, .whole, Self.small)
            let chunked = Self.exercise(input, .random(seed: UInt64(iteration), maxChunk: 100), Self.small)
            #expect(whole == chunked)
        }
    }

    @Test func auxiliaryLineParsers() {
        var rng = SeededRNG(seed: 5)
        for _ in 0..<1000 {
            let n = Int.random(in: 0...400, using: &rng)
            let input = (0..<n).map { _ in Self.specials.randomElement(using: &rng)! } + bytes("DONE\r\n")
            var p = IMAPCommandParser(configuration: .init(maxLineLength: 100))
            var rest = input[...]
            var calls = 0
            while !rest.isEmpty {
                calls += 1
                let (r, c) = Array(rest).withUnsafeBytes { p.parseIdleDone($0) }
                #expect(c <= rest.count)
                if r == .needMoreBytes { #expect(c == rest.count) } else { #expect(c >= 1) }
                if c == 0 { break }
                rest = rest.dropFirst(c)
                #expect(p.bufferedByteCount <= IMAPCommandParser.maxIdleLineLength + 1)
            }
            #expect(calls <= input.count + 1)
            var q = IMAPCommandParser(configuration: .init(maxLineLength: 100))
            rest = input[...]
            while !rest.isEmpty {
                let (r, c) = Array(rest).withUnsafeBytes { q.parseAuthenticateResponse($0) }
                #expect(c <= rest.count)
                if r == .needMoreBytes { #expect(c == rest.count) } else { #expect(c >= 1) }
                if c == 0 { break }
                rest = rest.dropFirst(c)
                #expect(q.bufferedByteCount <= 101)
            }
        }
    }

    /// A long stream of valid APPENDs near the limit runs in linear time and bounded memory.
    @Test func largeAppendStream() {
        let config = IMAPCommandParser.Configuration(maxAppendMessageSize: 1 << 20)
        let message = [UInt8](repeating: 0x61, count: 1 << 20)
        var d = Driver(configuration: config)
        for k in 0..<8 {
            d.feed(bytes("a\(k) APPEND INBOX (\\Seen) {\(message.count)+}\r\n"))
            var offset = 0
            while offset < message.count {
                d.feed(Array(message[offset..<min(message.count, offset + 65_536)]))
                offset += 65_536
            }
            d.feed(bytes("\r\n"))
            #expect(d.parser.bufferedByteCount == 0)
        }
        #expect(d.results.count == 8)
    }
}
