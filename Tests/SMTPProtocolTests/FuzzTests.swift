import SMTPProtocol
import Testing

/// Seeded fuzzing of every parser: random and mutated inputs, fed whole, byte by byte and in
/// random chunks. Properties: no crash, consumption never exceeds input, never `.needMoreBytes`
/// with a limit's worth buffered, and the same results whatever the chunking.
@Suite("Fuzz")
struct FuzzTests {
    static let commandTokens: [[UInt8]] = [
        "EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
        "STARTTLS", "AUTH", "auth ", "mail from:", "FROM:", "TO:", " ", " ", "  ", ":", "<", ">", "<>", "@", ",", "\"",
        "\\", "=", "SIZE=", "BODY=8BITMIME", "SMTPUTF8", "LAST", "PLAIN", "dGVzdA==", "*", "a@b", "x", "12", "-",
        "\r\n", "\r\n", "\r\n", "\r", "\n", "\t", "\u{0}", "ü", "用", ".",
    ].map { Array($0.utf8) }

    static func randomCommandInput(_ rng: inout SeededRNG) -> [UInt8] {
        var out: [UInt8] = []
        let tokens = Int.random(in: 0...60, using: &rng)
        for _ in 0..<tokens {
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<80: out += commandTokens.randomElement(using: &rng)!
            case 80..<97: out.append(UInt8.random(in: 0...255, using: &rng))
            case 97..<99: out += [UInt8](repeating: UInt8.random(in: 0x41...0x5A, using: &rng),
                                         count: Int.random(in: 1900...2200, using: &rng))
            default: out += [UInt8](repeating: 0x41, count: Int.random(in: 12000...12500, using: &rng))
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
            case 1: out.insert([13, 10, 0x2E, 0x20, 0x3C, 0x3E, 0x22].randomElement(using: &rng)!, at: i)
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

    static var validCorpus: [UInt8] {
        validCommands.flatMap { Array(($0.line + "\r\n").utf8) }
    }

    @Test("command parser: random and mutated inputs")
    func commandParser() {
        var rng = SeededRNG(seed: 0x5EED_0001)
        let corpus = Self.validCorpus
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
            // Every accepted command survives encode + parse unchanged.
            for case .command(let command) in whole.results {
                guard let encoded = command.encoded else { continue }
                #expect(runCommandParser(encoded, chunking: .whole).results == [.command(command)])
            }
        }
    }

    @Test("SASL response lines: random inputs")
    func authResponses() {
        var rng = SeededRNG(seed: 0x5EED_0002)
        let tokens: [[UInt8]] = ["QUJD", "dGVzdA==", "=", "*", " ", "\r\n", "\r\n", "\r", "\n", "!", "a"].map { Array($0.utf8) }
        for _ in 0..<3000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 0...30, using: &rng) { input += tokens.randomElement(using: &rng)! }
            if Int.random(in: 0..<50, using: &rng) == 0 { input += [UInt8](repeating: 0x41, count: 13000) }
            func run(_ chunking: Chunking) -> [SMTPCommandParser.AuthResponse] {
                var parser = SMTPCommandParser()
                var buffer: [UInt8] = []
                var results: [SMTPCommandParser.AuthResponse] = []
                for chunk in chunking.split(input) {
                    buffer += chunk
                    while true {
                        let (r, consumed) = parser.parseAuthResponse(buffer[...])
                        #expect(consumed <= buffer.count)
                        buffer.removeFirst(consumed)
                        if r == .needMoreBytes {
                            #expect(buffer.count < SMTPLimits.maxAuthLineLength)
                            break
                        }
                        results.append(r)
                    }
                }
                return results
            }
            let whole = run(.whole)
            #expect(run(.random(seed: rng.next(), maxChunk: 5000)) == whole)
            if input.count < 400 { #expect(run(.byteByByte) == whole) }
        }
    }

    @Test("reply parser: random and mutated inputs")
    func replyParser() {
        var rng = SeededRNG(seed: 0x5EED_0003)
        let tokens: [[UInt8]] = ["250", "250-", "250 ", "550-", "550 ", "2.0.0 ", "5.1.1 ", "354 ", "2", "-", " ", "Ok",
                                 "\r\n", "\r\n", "\r\n", "\n", "\r", "ü"].map { Array($0.utf8) }
        var corpus: [UInt8] = []
        for c in SMTPReplyTests.staticCases { c.reply.encode(into: &corpus) }
        for round in 0..<4000 {
            var input: [UInt8] = []
            if round % 2 == 0 {
                for _ in 0..<Int.random(in: 0...50, using: &rng) {
                    if Int.random(in: 0..<10, using: &rng) == 0 {
                        input.append(UInt8.random(in: 0...255, using: &rng))
                    } else {
                        input += tokens.randomElement(using: &rng)!
                    }
                }
                if Int.random(in: 0..<40, using: &rng) == 0 { input += [UInt8](repeating: 0x78, count: 5000) }
            } else {
                let start = Int.random(in: 0..<corpus.count, using: &rng)
                input = Self.mutate(Array(corpus[start..<min(corpus.count, start + 300)]), &rng)
            }
            let whole = runReplyParser(input, chunking: .whole)
            if !whole.results.contains(where: { if case .error = $0 { true } else { false } }) {
                #expect(whole.leftover.count < SMTPLimits.maxReplyLineLength)
            }
            for chunking in [Chunking.random(seed: rng.next(), maxChunk: 11)] + (input.count < 500 ? [.byteByByte] : []) {
                let other = runReplyParser(input, chunking: chunking)
                #expect(other.maxBuffered < SMTPLimits.maxReplyLineLength)
                // Up to and including the first error the results do not depend on chunking.
                #expect(other.results == whole.results, "\(chunking)")
            }
            for case .reply(let reply) in whole.results {
                #expect((200...599).contains(reply.code))
                #expect(reply.lines.count <= SMTPLimits.maxReplyLines)
            }
        }
    }

    /// A deliberately naive model of RFC 5321 §4.5.2 plus the smuggling rules, to compare with.
    static func referenceDecode(_ input: [UInt8], maxMessageSize: Int) -> (kind: String, consumed: Int?, output: [UInt8]?) {
        let padded: [UInt8] = [13, 10] + input
        let terminator: [UInt8] = [13, 10, 0x2E, 13, 10]
        var end: Int?
        if padded.count >= 5 {
            for i in 0...(padded.count - 5) where Array(padded[i..<(i + 5)]) == terminator {
                end = i
                break
            }
        }
        guard let end else { return ("needMoreBytes", nil, nil) }
        let body = Array(input[0..<end])  // through the CRLF before the final dot
        for j in body.indices {
            if body[j] == 10 && (j == 0 || body[j - 1] != 13) { return ("rejected(bareLineFeed)", end + 3, nil) }
            if body[j] == 13 && (j + 1 == body.count || body[j + 1] != 10) {
                return ("rejected(bareCarriageReturn)", end + 3, nil)
            }
        }
        var output: [UInt8] = []
        var lineStart = true
        for b in body {
            if lineStart && b == 0x2E {
                lineStart = false
                continue
            }
            lineStart = b == 10
            output.append(b)
        }
        if output.count > maxMessageSize { return ("tooLarge", end + 3, output) }
        return ("complete", end + 3, output)
    }

    @Test("DATA decoder: differential against a naive model, in random chunkings")
    func dataDecoder() {
        var rng = SeededRNG(seed: 0x5EED_0004)
        let tokens: [[UInt8]] = ["\r\n", "\r\n", ".", "..", "\r", "\n", "a", "bc", " ", "\r\n.", "\r\n.\r\n", "\n.\n",
                                 "\r\n.\n", "\n.\r\n", "\r.\r"].map { Array($0.utf8) }
        for _ in 0..<6000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                if Int.random(in: 0..<20, using: &rng) == 0 {
                    input += (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                } else {
                    input += tokens.randomElement(using: &rng)!
                }
            }
            let maxSize = Int.random(in: 0...60, using: &rng)
            let model = Self.referenceDecode(input, maxMessageSize: maxSize)
            let whole = runDataDecoder(input, chunking: .whole, maxMessageSize: maxSize)
            #expect(whole.result.kind == model.kind, "\(input)")
            if let consumed = model.consumed { #expect(whole.absoluteConsumed == consumed) }
            #expect(whole.absoluteConsumed <= input.count)
            #expect(whole.output.count <= maxSize)
            if model.kind == "complete" { #expect(whole.output == model.output) }
            if model.kind == "tooLarge", let full = model.output {
                #expect(Array(full.prefix(whole.output.count)) == whole.output)
            }
            for chunking in [Chunking.byteByByte, .random(seed: rng.next(), maxChunk: 6)] {
                let other = runDataDecoder(input, chunking: chunking, maxMessageSize: maxSize)
                #expect(other == whole, "\(chunking) \(input)")
            }
        }
    }

    @Test("DATA encoder: refuses exactly the inputs with bare line endings")
    func dataEncoder() {
        var rng = SeededRNG(seed: 0x5EED_0005)
        let tokens: [[UInt8]] = ["\r\n", "\r\n", ".", "\r", "\n", "a", " "].map { Array($0.utf8) }
        for _ in 0..<3000 {
            var message: [UInt8] = []
            for _ in 0..<Int.random(in: 0...20, using: &rng) { message += tokens.randomElement(using: &rng)! }
            var hasBare = false
            for j in message.indices {
                if message[j] == 10 && (j == 0 || message[j - 1] != 13) { hasBare = true }
                if message[j] == 13 && (j + 1 == message.count || message[j + 1] != 10) { hasBare = true }
            }
            do {
                let stuffed = try DataEncoder.stuff(message)
                #expect(!hasBare)
                let run = runDataDecoder(stuffed, chunking: .random(seed: rng.next(), maxChunk: 4))
                #expect(run.result.kind == "complete")
                #expect(run.absoluteConsumed == stuffed.count)
                let expected = message.isEmpty || message.suffix(2) == [13, 10] ? message : message + [13, 10]
                #expect(run.output == expected)
            } catch {
                #expect(hasBare)
            }
        }
    }
}
