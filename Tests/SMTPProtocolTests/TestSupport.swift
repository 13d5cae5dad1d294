import SMTPProtocol

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
/// non-`needMoreBytes` result. Checks the buffer contract on the way.
func runCommandParser(
    _ input: [UInt8], chunking: Chunking, configuration: SMTPCommandParser.Configuration = .init(),
    invariantFailure: (String) -> Void = { _ in }
) -> (results: [SMTPCommandParser.ParseResult], leftover: [UInt8]) {
    var parser = SMTPCommandParser(configuration: configuration)
    var buffer: [UInt8] = []
    var results: [SMTPCommandParser.ParseResult] = []
    for chunk in chunking.split(input) {
        buffer.append(contentsOf: chunk)
        while true {
            let (result, consumed) = parser.parse(buffer[...])
            if consumed < 0 || consumed > buffer.count { invariantFailure("consumed \(consumed) of \(buffer.count)") }
            buffer.removeFirst(max(0, min(consumed, buffer.count)))
            if result == .needMoreBytes {
                let isAuth = buffer.count >= 5 && String(decoding: buffer.prefix(5), as: UTF8.self).uppercased() == "AUTH "
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

struct DataRun: Equatable, CustomStringConvertible {
    var result: DataDecoder.Result
    /// Bytes of the whole input that were consumed as DATA (absolute, across chunks).
    var absoluteConsumed: Int
    var output: [UInt8]

    /// Equal when the outcome, the absolute position and the message agree (the `consumed` inside
    /// `result` is relative to the last chunk, so it differs between chunkings).
    static func == (a: DataRun, b: DataRun) -> Bool {
        a.result.kind == b.result.kind && a.absoluteConsumed == b.absoluteConsumed && a.output == b.output
    }

    var description: String {
        "\(result) at \(absoluteConsumed), output \(String(decoding: output, as: UTF8.self).debugDescription)"
    }
}

/// Feeds `input` to a DATA decoder in chunks; stops at the first final result.
func runDataDecoder(_ input: [UInt8], chunking: Chunking, maxMessageSize: Int = 1 << 20) -> DataRun {
    var decoder = DataDecoder(maxMessageSize: maxMessageSize)
    var output: [UInt8] = []
    var offset = 0
    for chunk in chunking.split(input) {
        let result = decoder.decode(chunk, into: &output)
        switch result {
        case .needMoreBytes:
            offset += chunk.count
        case .complete(let n), .rejected(_, let n), .tooLarge(let n):
            return DataRun(result: result, absoluteConsumed: offset + n, output: output)
        }
    }
    return DataRun(result: .needMoreBytes, absoluteConsumed: offset, output: output)
}

extension DataDecoder.Result {
    /// The same result with a consumed count of 0, to compare kinds across chunkings.
    var kind: String {
        switch self {
        case .needMoreBytes: "needMoreBytes"
        case .complete: "complete"
        case .rejected(let r, _): "rejected(\(r))"
        case .tooLarge: "tooLarge"
        }
    }
}
