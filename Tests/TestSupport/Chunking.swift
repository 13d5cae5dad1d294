import LineFraming

/// The bytes of a string, for test inputs.
public func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// How a test cuts its input into the chunks a socket might deliver.
public enum Chunking: Sendable, CustomStringConvertible {
    case whole
    case byteByByte
    case random(seed: UInt64, maxChunk: Int)

    public func split(_ input: [UInt8]) -> [[UInt8]] {
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

    public var description: String {
        switch self {
        case .whole: "whole"
        case .byteByByte: "byte by byte"
        case .random(let seed, let maxChunk): "random(seed: \(seed), max: \(maxChunk))"
        }
    }

    public static let standard: [Chunking] = [
        .whole, .byteByByte, .random(seed: 1, maxChunk: 3), .random(seed: 2, maxChunk: 7),
        .random(seed: 3, maxChunk: 64),
    ]
}

/// Feeds `input` to a line command parser in chunks, the way a NIO handler would, and collects
/// every result but `needMoreBytes`. Checks the buffer contract on the way: consumption within
/// the input, and never `needMoreBytes` with a limit's worth of bytes buffered.
public func feedCommands<G: LineGrammar>(
    _ parser: LineCommandParser<G>, _ input: [UInt8], chunking: Chunking, invariantFailure: (String) -> Void
) -> (results: [LineCommandParser<G>.ParseResult], leftover: [UInt8]) {
    var parser = parser
    let configuration = parser.configuration
    var buffer: [UInt8] = []
    var results: [LineCommandParser<G>.ParseResult] = []
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

/// Feeds `input` to `parseAuthResponse` in chunks.
public func feedSASLResponses<G: LineGrammar>(
    _ parser: LineCommandParser<G>, _ input: [UInt8], chunking: Chunking, invariantFailure: (String) -> Void
) -> [LineCommandParser<G>.AuthResponse] {
    var parser = parser
    var buffer: [UInt8] = []
    var results: [LineCommandParser<G>.AuthResponse] = []
    for chunk in chunking.split(input) {
        buffer += chunk
        while true {
            let (r, consumed) = parser.parseAuthResponse(buffer[...])
            if consumed > buffer.count { invariantFailure("consumed \(consumed) of \(buffer.count)") }
            buffer.removeFirst(min(consumed, buffer.count))
            if r == .needMoreBytes {
                if buffer.count >= parser.configuration.maxAuthLineLength { invariantFailure("needMoreBytes with \(buffer.count) buffered") }
                break
            }
            results.append(r)
        }
    }
    return results
}
