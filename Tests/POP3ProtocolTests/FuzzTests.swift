import POP3Protocol
import Testing

/// Seeded fuzzing of the POP3 grammar: random and mutated inputs, fed whole, byte by byte and in
/// random chunks. Properties: no crash, consumption never exceeds the input, never
/// `.needMoreBytes` with a limit's worth buffered, the same results whatever the chunking,
/// every accepted command survives encode + parse, and dot-stuffing always parses back.
@Suite("Fuzz")
struct FuzzTests {
    static let commandTokens: [[UInt8]] = [
        "USER", "PASS", "APOP", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL", "CAPA", "STLS",
        "AUTH", "auth ", "user ", "list ", "PLAIN", "SCRAM-SHA-256", "=", "dGVzdA==", "QUJD", "*", " ", " ", "  ", "1", "0",
        "42", "99999999999999999999999", "-", "alice@example.test", "ü", "用", ".", "\r\n", "\r\n", "\r\n", "\n", "\r",
        "\t", "\u{0}", "\u{7F}",
    ].map { Array($0.utf8) }

    static func randomCommandInput(_ rng: inout SeededRNG) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<Int.random(in: 0...60, using: &rng) {
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<80: out += commandTokens.randomElement(using: &rng)!
            case 80..<97: out.append(UInt8.random(in: 0...255, using: &rng))
            case 97..<99: out += [UInt8](repeating: UInt8.random(in: 0x41...0x5A, using: &rng), count: Int.random(in: 200...300, using: &rng))
            default: out += bytes("AUTH PLAIN ") + [UInt8](repeating: 0x41, count: Int.random(in: 12000...12500, using: &rng))
            }
        }
        return out
    }

    static func mutate(_ input: [UInt8], _ rng: inout SeededRNG) -> [UInt8] {
        var out = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !out.isEmpty else { out = [13, 10]; continue }
            let i = Int.random(in: 0..<out.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: out[i] = UInt8.random(in: 0...255, using: &rng)
            case 1: out.insert([13, 10, 0x2E, 0x20, 0x30, 0x39, 0x3D].randomElement(using: &rng)!, at: i)
            case 2: out.remove(at: i)
            case 3:
                let j = Int.random(in: i...min(out.count, i + 20), using: &rng)
                out.insert(contentsOf: out[i..<j], at: i)
            case 4: out = Array(out.prefix(i))
            default: out.swapAt(i, Int.random(in: 0..<out.count, using: &rng))
            }
        }
        return out
    }

    @Test("command parser: random and mutated inputs")
    func commandParser() {
        var rng = SeededRNG(seed: 0x90_93_0001)
        let corpus = validCommands.flatMap { Array(($0.line + "\r\n").utf8) }
        for round in 0..<4000 {
            let input: [UInt8]
            if round % 2 == 0 {
                input = Self.randomCommandInput(&rng)
            } else {
                let start = Int.random(in: 0..<corpus.count, using: &rng)
                let slice = Array(corpus[start..<min(corpus.count, start + Int.random(in: 1...400, using: &rng))])
                input = Self.mutate(slice, &rng)
            }
            let whole = runCommandParser(input, chunking: .whole) { Issue.record("\($0)") }
            let chunkings: [Chunking] = input.count < 600
                ? [.byteByByte, .random(seed: rng.next(), maxChunk: 9)]
                : [.random(seed: rng.next(), maxChunk: 700)]
            for chunking in chunkings {
                let other = runCommandParser(input, chunking: chunking) { Issue.record("\($0)") }
                if other.results != whole.results || other.leftover != whole.leftover {
                    Issue.record("chunking \(chunking) differs for \(input)")
                    return
                }
            }
            for case .command(let command) in whole.results {
                guard let encoded = command.encoded else { continue }
                #expect(runCommandParser(encoded, chunking: .whole).results == [.command(command)], "\(command)")
            }
            // Every error is one -ERR line that cannot smuggle a second response.
            for case .error(let response) in whole.results {
                let wire = response.encoded
                #expect(response.status == .error && wire.filter { $0 == 0x0A || $0 == 0x0D }.count == 2 && wire.suffix(2) == [0x0D, 0x0A])
            }
        }
    }

    @Test("SASL response lines: random inputs")
    func authResponses() {
        var rng = SeededRNG(seed: 0x90_93_0002)
        let tokens: [[UInt8]] = ["QUJD", "dGVzdA==", "=", "*", " ", "\r\n", "\r\n", "\r", "\n", "!", "a", "\u{0}"].map { Array($0.utf8) }
        for _ in 0..<3000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 0...30, using: &rng) { input += tokens.randomElement(using: &rng)! }
            if Int.random(in: 0..<50, using: &rng) == 0 { input += [UInt8](repeating: 0x41, count: 13000) }
            let whole = runAuthParser(input, chunking: .whole) { Issue.record("\($0)") }
            #expect(runAuthParser(input, chunking: .random(seed: rng.next(), maxChunk: 5000)) { Issue.record("\($0)") } == whole)
            if input.count < 400 { #expect(runAuthParser(input, chunking: .byteByByte) == whole) }
        }
    }

    @Test("dot-stuffing: any bytes, any chunking, parse back")
    func dotStuffing() throws {
        var rng = SeededRNG(seed: 0x90_93_0003)
        let pieces: [[UInt8]] = [".", "..", "\r\n", "\r\n", "\n", "\r", "\r\n.\r\n", "\n.\n", "a", "line of text", "\u{0}"].map { Array($0.utf8) }
        for _ in 0..<3000 {
            var message: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                if Int.random(in: 0..<10, using: &rng) == 0 {
                    message.append(UInt8.random(in: 0...255, using: &rng))
                } else {
                    message += pieces.randomElement(using: &rng)!
                }
            }
            let whole = stuffed(message)
            for chunking in [Chunking.byteByByte, .random(seed: rng.next(), maxChunk: 7)] {
                #expect(stuffed(message, chunking: chunking) == whole, "\(chunking) for \(message)")
            }
            // What a client reads back is the message with line ends made CRLF (bare LF
            // repaired, a CRLF added to an unterminated last line), and nothing after ".CRLF".
            let back = try #require(unstuff(whole), "no terminator for \(message)")
            #expect(back.trailing == 0)
            #expect(back.text == Self.normalized(message), "for \(message)")
            // Never a bare LF on the wire.
            for (i, b) in whole.enumerated() where b == 0x0A { #expect(i > 0 && whole[i - 1] == 0x0D) }
        }
    }

    /// The message as a client must read it back: bare LF as CRLF, a final CRLF added.
    static func normalized(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for b in message {
            if b == 0x0A && out.last != 0x0D { out.append(0x0D) }
            out.append(b)
        }
        if !out.isEmpty && out.last != 0x0A {
            if out.last != 0x0D { out.append(0x0D) }
            out.append(0x0A)
        }
        return out
    }

    @Test("TOP: the prefix is always a whole number of lines of the message")
    func topLengths() {
        var rng = SeededRNG(seed: 0x90_93_0004)
        let pieces: [[UInt8]] = ["A: b", "\r\n", "\r\n", "\n", "\r", "x", ""].map { Array($0.utf8) }
        for _ in 0..<3000 {
            var message: [UInt8] = []
            for _ in 0..<Int.random(in: 0...30, using: &rng) { message += pieces.randomElement(using: &rng)! }
            let k = Int.random(in: -2...10, using: &rng)
            let n = POP3MessageText.topLength(message, bodyLines: k)
            #expect(n >= 0 && n <= message.count)
            #expect(n == message.count || (n > 0 && message[n - 1] == 0x0A), "cut inside a line of \(message)")
            #expect(POP3MessageText.topLength(message, bodyLines: k + 1) >= n, "monotonic in the line count")
        }
    }
}
