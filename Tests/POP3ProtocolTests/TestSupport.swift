import POP3Protocol
@_exported import TestSupport

func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

/// Feeds `input` to a command parser in chunks, the way a NIO handler would, and collects every
/// non-`needMoreBytes` result. Checks the buffer contract on the way: consumption within the
/// input, and never `needMoreBytes` with a limit's worth of bytes buffered.
func runCommandParser(
    _ input: [UInt8], chunking: Chunking, configuration: POP3CommandParser.Configuration = .init(),
    invariantFailure: (String) -> Void = { _ in }
) -> (results: [POP3CommandParser.ParseResult], leftover: [UInt8]) {
    feedCommands(POP3CommandParser(configuration: configuration), input, chunking: chunking, invariantFailure: invariantFailure)
}

/// Feeds `input` to `parseAuthResponse` in chunks.
func runAuthParser(_ input: [UInt8], chunking: Chunking, invariantFailure: (String) -> Void = { _ in })
    -> [POP3CommandParser.AuthResponse] {
    feedSASLResponses(POP3CommandParser(), input, chunking: chunking, invariantFailure: invariantFailure)
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
