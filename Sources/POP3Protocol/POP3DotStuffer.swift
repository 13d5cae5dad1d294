import LineFraming
/// Turns message text into the body of a multi-line response (RFC 1939 §3), streaming: feed
/// the message in any number of chunks, then call `finish`.
///
/// - A line that starts with "." gets another "." in front ("byte-stuffing").
/// - A bare LF (one not preceded by CR) is sent as CRLF. The store keeps CRLF, so this does
///   not happen for mail that came in over SMTP or an import; it guards against a client taking
///   "\n.\n" inside a message for the end of the response, and means we never emit a bare LF
///   (DESIGN.md §4). A bare CR is not a line end for any client and is passed through.
/// - `finish` ends an unterminated last line with CRLF, then sends the terminating ".CRLF".
///
/// Speed: the text is scanned eight bytes at a time for LF and handed to `emit` in spans as
/// long as the stretches between stuffed dots, so the caller copies a large message with a few
/// `memcpy`s (for a ByteBuffer: `buffer.writeBytes(span)`).
public struct POP3DotStuffer: Sendable {
    /// ".CRLF", the end of every multi-line response.
    public static let terminator: [UInt8] = [0x2E, 0x0D, 0x0A]
    static let crlf: [UInt8] = [0x0D, 0x0A]
    static let lf: [UInt8] = [0x0A]
    static let dot: [UInt8] = [0x2E]

    private var atLineStart = true
    private var afterCR = false
    /// Bare LFs sent as CRLF so far (each made the output one octet longer than the input).
    public private(set) var repairedLineFeeds = 0

    public init() {}

    /// Passes the stuffed form of `chunk` to `emit`, in order, as one or more spans. The spans
    /// are only valid during the call.
    public mutating func stuff(_ chunk: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) {
        let p = chunk.assumingMemoryBound(to: UInt8.self)
        let n = p.count
        guard n > 0 else { return }
        var spanStart = 0
        if atLineStart && p[0] == ASCIIByte.dot { Self.dot.withUnsafeBytes(emit) }
        var i = 0
        while true {
            let lf = ByteScan.firstLF(p, from: i, to: n)
            if lf == n { break }
            let afterCarriageReturn = lf > 0 ? p[lf - 1] == ASCIIByte.cr : afterCR
            if !afterCarriageReturn {
                if lf > spanStart { emit(UnsafeRawBufferPointer(rebasing: chunk[spanStart..<lf])) }
                Self.crlf.withUnsafeBytes(emit)
                spanStart = lf + 1
                repairedLineFeeds += 1
            }
            let next = lf + 1
            if next < n, p[next] == ASCIIByte.dot {
                if next > spanStart { emit(UnsafeRawBufferPointer(rebasing: chunk[spanStart..<next])) }
                Self.dot.withUnsafeBytes(emit)
                spanStart = next  // the original dot goes out with the next span
            }
            i = next
        }
        if n > spanStart { emit(UnsafeRawBufferPointer(rebasing: chunk[spanStart..<n])) }
        atLineStart = p[n - 1] == ASCIIByte.lf
        afterCR = p[n - 1] == ASCIIByte.cr
    }

    /// Ends the text: CRLF if the last line had none, then ".CRLF". The stuffer is then ready
    /// for another message.
    public mutating func finish(emit: (UnsafeRawBufferPointer) -> Void) {
        if !atLineStart {
            // A trailing CR already is half of the CRLF.
            (afterCR ? Self.lf : Self.crlf).withUnsafeBytes(emit)
        }
        Self.terminator.withUnsafeBytes(emit)
        atLineStart = true
        afterCR = false
    }

    /// Appends the stuffed form of `chunk` to `buffer`.
    public mutating func stuff(_ chunk: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        stuff(chunk) { buffer.append(contentsOf: $0) }
    }

    /// Appends the ending (see `finish(emit:)`) to `buffer`.
    public mutating func finish(into buffer: inout [UInt8]) {
        finish { buffer.append(contentsOf: $0) }
    }

    /// Appends `first` (the `+OK` line) and the whole of `message`, stuffed and terminated: a
    /// complete RETR or TOP response.
    public static func encodeMessage(_ first: POP3Response, _ message: some Collection<UInt8>, into buffer: inout [UInt8]) {
        first.encode(into: &buffer)
        buffer.reserveCapacity(buffer.count + message.count + message.count / 64 + 8)
        var stuffer = POP3DotStuffer()
        let done: Void? = message.withContiguousStorageIfAvailable { p in
            stuffer.stuff(UnsafeRawBufferPointer(p), into: &buffer)
        }
        if done == nil {
            Array(message).withUnsafeBytes { stuffer.stuff($0, into: &buffer) }
        }
        stuffer.finish(into: &buffer)
    }
}

/// Where the parts of a message are, for TOP (RFC 1939 §7).
public enum POP3MessageText {
    /// The length of the prefix of `message` that `TOP msg n` sends: the header, the blank line
    /// that ends it, and the first `bodyLines` lines of the body. A message without a blank
    /// line is all header and is sent whole, as is one with fewer body lines than asked for.
    /// Lines end at LF (CRLF in the store); a blank line is CRLF or a bare LF.
    public static func topLength(_ message: UnsafeRawBufferPointer, bodyLines: Int) -> Int {
        let p = message.assumingMemoryBound(to: UInt8.self)
        let n = p.count
        var lineStart = 0
        var bodyStart: Int? = nil
        while lineStart < n {
            let lf = ByteScan.firstLF(p, from: lineStart, to: n)
            guard lf < n else { return n }
            let content = lf - lineStart
            if content == 0 || (content == 1 && p[lineStart] == ASCIIByte.cr) {
                bodyStart = lf + 1
                break
            }
            lineStart = lf + 1
        }
        guard var position = bodyStart else { return n }
        var remaining = max(0, bodyLines)
        while remaining > 0 && position < n {
            let lf = ByteScan.firstLF(p, from: position, to: n)
            guard lf < n else { return n }
            position = lf + 1
            remaining -= 1
        }
        return position
    }

    /// `topLength` for an array.
    public static func topLength(_ message: [UInt8], bodyLines: Int) -> Int {
        message.withUnsafeBytes { topLength($0, bodyLines: bodyLines) }
    }
}
