import SMTPProtocol
@_exported import TestSupport

/// Feeds `input` to a command parser in chunks, the way a NIO handler would, and collects every
/// non-`needMoreBytes` result. Checks the buffer contract on the way.
func runCommandParser(
    _ input: [UInt8], chunking: Chunking, configuration: SMTPCommandParser.Configuration = .init(),
    invariantFailure: (String) -> Void = { _ in }
) -> (results: [SMTPCommandParser.ParseResult], leftover: [UInt8]) {
    feedCommands(SMTPCommandParser(configuration: configuration), input, chunking: chunking, invariantFailure: invariantFailure)
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
