import POP3Protocol

/// SplitMix64: a small, seeded, reproducible generator for fuzz and chunking tests.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

/// How to cut an input into chunks.
enum Chunking: Sendable, CustomStringConvertible {
    case whole
    case byteByByte
    case random(seed: UInt64, maxChunk: Int)

    func split(_ input: [UInt8]) -> [[UInt8]] {
        switch self {
        case .whole:
            return [input]
        case .byteByByte:
            return input.map { [$0] }
        case .random(let seed, let maxChunk):
            var rng = SeededRNG(seed: seed)
            var chunks: [[UInt8]] = []
            var i = 0
            while i < input.count {
                let n = Int.random(in: 1...maxChunk, using: &rng)
                let end = min(input.count, i + n)
                chunks.append(Array(input[i..<end]))
                i = end
            }
            return chunks
        }
    }

    var description: String {
        switch self {
        case .whole: "whole"
        case .byteByByte: "byte by byte"
        case .random(let seed, let maxChunk): "random(seed: \(seed), max: \(maxChunk))"
        }
    }

    static let standard: [Chunking] = [
        .whole, .byteByByte, .random(seed: 1, maxChunk: 3), .random(seed: 2, maxChunk: 7),
        .random(seed: 3, maxChunk: 64),
    ]
}

/// Feeds `input` to a command parser in chunks, the way a NIO handler would, and collects every
/// non-`needMoreBytes` result. Checks the buffer contract on the way: consumption within the
/// input, and never `needMoreBytes` with a limit's worth of bytes buffered.
func runCommandParser(
    _ input: [UInt8], chunking: Chunking, configuration: POP3CommandParser.Configuration = .init(),
    invariantFailure: (String) -> Void = { _ in }
) -> (results: [POP3CommandParser.ParseResult], leftover: [UInt8]) {
    var parser = POP3CommandParser(configuration: configuration)
    var buffer: [UInt8] = []
    var results: [POP3CommandParser.ParseResult] = []
    for chunk in chunking.split(input) {
        buffer.append(contentsOf: chunk)
        while true {
            let (result, consumed) = parser.parse(buffer[...])
            if consumed < 0 || consumed > buffer.count { invariantFailure("consumed \(consumed) of \(buffer.count)") }
            buffer.removeFirst(max(0, min(consumed, buffer.count)))
            if result == .needMoreBytes {
                let isAuth = buffer.count >= 5 && text(Array(buffer.prefix(5))).uppercased() == "AUTH "
                let limit = isAuth ? configuration.maxAuthLineLength : configuration.maxCommandLineLength
                if buffer.count >= limit {
                    invariantFailure("needMoreBytes with \(buffer.count) bytes buffered (limit \(limit))")
                }
                break
            }
            results.append(result)
        }
    }
    return (results, buffer)
}

/// Feeds `input` to `parseAuthResponse` in chunks.
func runAuthParser(_ input: [UInt8], chunking: Chunking, invariantFailure: (String) -> Void = { _ in })
    -> [POP3CommandParser.AuthResponse]
{
    var parser = POP3CommandParser()
    var buffer: [UInt8] = []
    var results: [POP3CommandParser.AuthResponse] = []
    for chunk in chunking.split(input) {
        buffer += chunk
        while true {
            let (r, consumed) = parser.parseAuthResponse(buffer[...])
            if consumed > buffer.count { invariantFailure("consumed \(consumed) of \(buffer.count)") }
            buffer.removeFirst(min(consumed, buffer.count))
            if r == .needMoreBytes {
                if buffer.count >= POP3Limits.maxAuthLineLength { invariantFailure("needMoreBytes with \(buffer.count) buffered") }
                break
            }
            results.append(r)
        }
    }
    return results
}

/// Stuffs `message` fed in chunks and terminates it.
func stuffed(_ message: [UInt8], chunking: Chunking = .whole) -> [UInt8] {
    var stuffer = POP3DotStuffer()
    var out: [UInt8] = []
    for chunk in chunking.split(message) {
        chunk.withUnsafeBytes { stuffer.stuff($0, into: &out) }
    }
    stuffer.finish(into: &out)
    return out
}

/// What a client does with a multi-line response body (RFC 1939 §3): split at CRLF up to the
/// ".CRLF" line, remove one leading "." from stuffed lines. Returns the text and the number of
/// bytes after the terminator (nil when there is no terminator).
func unstuff(_ wire: [UInt8]) -> (text: [UInt8], trailing: Int)? {
    var out: [UInt8] = []
    var i = 0
    while i < wire.count {
        guard let lf = wire[i...].firstIndex(of: 0x0A) else { return nil }
        var line = Array(wire[i..<lf])
        guard line.last == 0x0D else { return nil }  // every line must end in CRLF
        line.removeLast()
        if line == [0x2E] { return (out, wire.count - (lf + 1)) }
        if line.first == 0x2E { line.removeFirst() }
        out += line + [0x0D, 0x0A]
        i = lf + 1
    }
    return nil
}
