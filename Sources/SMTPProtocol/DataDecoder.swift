import LineFraming
/// Why a DATA body was rejected after it was read to its end.
public enum DataRejection: Sendable, Hashable {
    /// An LF not preceded by CR.
    case bareLineFeed
    /// A CR not followed by LF.
    case bareCarriageReturn

    /// The reply to send after the terminating `.`:
    /// `554 5.6.0 Message contains bare <LF>; lines must end in <CR><LF>`.
    ///
    /// 554 is RFC 5321 §4.2.3's "Transaction failed" answer to the end of DATA; X.6.0
    /// ("Other or undefined media error", RFC 3463 §3.7) is a registered code that says the
    /// content, not the envelope, is at fault. (Postfix answers `550 5.5.2 bare <LF> received`;
    /// there is no registered enhanced code specific to bare line endings.)
    public var reply: SMTPReply {
        switch self {
        case .bareLineFeed:
            SMTPReply(code: 554, enhanced: EnhancedStatus(5, 6, 0),
                      "Message contains bare <LF>; lines must end in <CR><LF>")
        case .bareCarriageReturn:
            SMTPReply(code: 554, enhanced: EnhancedStatus(5, 6, 0),
                      "Message contains bare <CR>; lines must end in <CR><LF>")
        }
    }
}

/// Decodes the message that follows a `354` reply to DATA (RFC 5321 §4.1.1.4, §4.5.2): a
/// resumable state machine fed chunks of bytes.
///
/// - Dot-unstuffing (RFC 5321 §4.5.2): a line starting with `.` has that dot removed.
/// - The message ends at exactly `<CRLF>.<CRLF>`; the DATA command's own CRLF counts as the
///   first CRLF, so `.<CRLF>` straight away is an empty message. The CRLF before the final dot
///   belongs to the message.
/// - SMTP smuggling (DESIGN.md §4): only `<CRLF>.<CRLF>` ends the message. `<LF>.<LF>`,
///   `<LF>.<CR><LF>`, `<CR>.<CR>`, `<CR><LF>.<LF>` do not. A bare LF or bare CR anywhere makes
///   the decoder stop storing, read on to the real end, and report `.rejected` (answer
///   `rejection.reply`, never deliver).
/// - Size: past `maxMessageSize` octets (after unstuffing) the decoder stops storing, reads on to
///   the end and reports `.tooLarge` (answer `SMTPReply.messageTooBig`). A rejection for bare
///   line endings takes precedence over `.tooLarge`.
///
/// Every call consumes all it is given up to the end of the message and appends the decoded
/// message bytes to `output`; the caller may flush and empty `output` between calls (to a spool
/// file, say), as the decoder counts the size itself. Bytes after the terminator (pipelined
/// commands, RFC 2920) are left alone: `consumed` says where they start.
public struct DataDecoder: Sendable {
    /// The outcome of one `decode` call.
    public enum Result: Sendable, Hashable {
        /// All input consumed; the message has not ended yet.
        case needMoreBytes
        /// The message ended at `<CRLF>.<CRLF>`; the first `consumed` bytes of this input were DATA.
        case complete(consumed: Int)
        /// The message ended, but held a bare CR or LF: answer `rejection.reply`.
        case rejected(DataRejection, consumed: Int)
        /// The message ended, but was larger than `maxMessageSize`: answer `SMTPReply.messageTooBig`.
        case tooLarge(consumed: Int)
    }

    private enum State: UInt8 {
        case lineStart  // after CRLF (or at the very start)
        case lineStartDot  // "." at line start, not yet known whether stuffing or terminator
        case dotCR  // ".<CR>" at line start
        case inLine
        case sawCR  // CR in a line, LF not yet seen
        case finished
    }

    /// The largest message stored, in octets after unstuffing.
    public let maxMessageSize: Int
    /// Octets of message seen so far, after unstuffing (also counted past `maxMessageSize`).
    public private(set) var messageSize: Int = 0
    /// The first bare line ending seen, if any.
    public private(set) var rejection: DataRejection?
    /// True once `messageSize` exceeded `maxMessageSize`.
    public private(set) var exceededSize = false

    private var state: State = .lineStart
    private var finalResult: Result = .needMoreBytes

    /// A decoder for one message; `maxMessageSize` is the server's SIZE limit (RFC 1870).
    public init(maxMessageSize: Int) {
        precondition(maxMessageSize >= 0)
        self.maxMessageSize = maxMessageSize
    }

    /// True once the terminator has been seen; further calls consume nothing.
    public var isFinished: Bool { state == .finished }

    /// Decodes a chunk; appends message bytes to `output`.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Result {
        decode(bytes: bytes.assumingMemoryBound(to: UInt8.self), into: &output)
    }

    /// Decodes a chunk; appends message bytes to `output`.
    public mutating func decode(_ bytes: ArraySlice<UInt8>, into output: inout [UInt8]) -> Result {
        bytes.withUnsafeBytes { decode($0, into: &output) }
    }

    /// Decodes a chunk; appends message bytes to `output`.
    public mutating func decode(_ bytes: [UInt8], into output: inout [UInt8]) -> Result {
        bytes.withUnsafeBytes { decode($0, into: &output) }
    }

    private static let crlf: [UInt8] = [ASCIIByte.cr, ASCIIByte.lf]
    private static let dot: [UInt8] = [ASCIIByte.dot]

    private var storing: Bool { rejection == nil && !exceededSize }

    @inline(__always)
    private mutating func emit(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into output: inout [UInt8]) {
        let n = end - start
        guard n > 0 else { return }
        let before = messageSize
        messageSize += n
        guard storing else { return }
        if messageSize > maxMessageSize {
            // Store exactly the first `maxMessageSize` octets (whatever the chunking), then stop
            // growing memory and read on to the end.
            exceededSize = true
            let room = maxMessageSize - before
            if room > 0 { output.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<(start + room)])) }
            return
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: p[start..<end]))
    }

    @inline(__always)
    private mutating func emit(_ bytes: [UInt8], into output: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { emit($0, 0, $0.count, into: &output) }
    }

    @inline(__always)
    private mutating func reject(_ reason: DataRejection) {
        if rejection == nil { rejection = reason }
    }

    private mutating func decode(bytes p: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) -> Result {
        let n = p.count
        var i = 0
        while i < n {
            switch state {
            case .finished:
                return finalResult.withConsumed(0)

            case .lineStart:
                let b = p[i]
                if b == ASCIIByte.dot {
                    state = .lineStartDot
                    i += 1
                } else {
                    state = .inLine  // CR, LF and the rest are handled by .inLine
                }

            case .lineStartDot:
                if p[i] == ASCIIByte.cr {
                    state = .dotCR
                    i += 1
                } else {
                    // RFC 5321 §4.5.2: "." followed by other characters: the dot is removed.
                    // (".<LF>" is a bare LF, which .inLine records; it does not end the message.)
                    state = .inLine
                }

            case .dotCR:
                if p[i] == ASCIIByte.lf {
                    state = .finished
                    finalResult = result(consumed: i + 1)
                    return finalResult
                }
                // ".<CR>" followed by anything else: a bare CR in a dot-stuffed line.
                reject(.bareCarriageReturn)
                emit([ASCIIByte.cr], into: &output)
                state = .inLine

            case .sawCR:
                if p[i] == ASCIIByte.lf {
                    emit(Self.crlf, into: &output)
                    state = .lineStart
                    i += 1
                } else {
                    reject(.bareCarriageReturn)
                    emit([ASCIIByte.cr], into: &output)
                    state = .inLine
                }

            case .inLine:
                // The hot loop: one run of bytes is appended in bulk across ordinary lines; it
                // only breaks at a dot at line start, a CR at the chunk's end, or the chunk's end.
                var runStart = i
                while true {
                    let j = ByteScan.firstCROrLF(p, from: i, to: n)
                    if j == n {
                        emit(p, runStart, n, into: &output)
                        return .needMoreBytes
                    }
                    if p[j] == ASCIIByte.lf {
                        // LF without CR: never a line end (smuggling). Store what came before it,
                        // so the stored prefix does not depend on how the input was chunked.
                        emit(p, runStart, j, into: &output)
                        reject(.bareLineFeed)
                        runStart = j
                        i = j + 1
                        continue
                    }
                    // CR
                    guard j + 1 < n else {
                        emit(p, runStart, j, into: &output)
                        state = .sawCR
                        return .needMoreBytes
                    }
                    guard p[j + 1] == ASCIIByte.lf else {
                        emit(p, runStart, j, into: &output)
                        reject(.bareCarriageReturn)
                        runStart = j
                        i = j + 1
                        continue
                    }
                    let k = j + 2  // start of the next line
                    if k == n {
                        emit(p, runStart, n, into: &output)
                        state = .lineStart
                        return .needMoreBytes
                    }
                    if p[k] == ASCIIByte.dot {
                        emit(p, runStart, k, into: &output)
                        state = .lineStartDot
                        i = k + 1
                        break
                    }
                    i = k
                }
            }
        }
        return state == .finished ? finalResult.withConsumed(0) : .needMoreBytes
    }

    private func result(consumed: Int) -> Result {
        if let rejection { return .rejected(rejection, consumed: consumed) }
        if exceededSize { return .tooLarge(consumed: consumed) }
        return .complete(consumed: consumed)
    }
}

extension DataDecoder.Result {
    fileprivate func withConsumed(_ consumed: Int) -> Self {
        switch self {
        case .needMoreBytes: .needMoreBytes
        case .complete: .complete(consumed: consumed)
        case .rejected(let r, _): .rejected(r, consumed: consumed)
        case .tooLarge: .tooLarge(consumed: consumed)
        }
    }
}

// MARK: - Dot-stuffing (the client side)

/// Why a message cannot be sent with DATA.
public enum DataEncodingError: Error, Sendable, Hashable {
    /// An LF not preceded by CR, at this offset of the message.
    case bareLineFeed(offset: Int)
    /// A CR not followed by LF, at this offset of the message.
    case bareCarriageReturn(offset: Int)
}

/// Dot-stuffs a message for DATA (RFC 5321 §4.5.2): a dot is added before every line that
/// starts with `.`, the message is made to end in CRLF, and the terminator `.<CRLF>` follows.
/// Messages holding a bare CR or bare LF are refused: we never emit one (DESIGN.md §4).
///
/// Streaming: call `encode` for each chunk, then `finish`. One-shot: `DataEncoder.stuff`.
public struct DataEncoder: Sendable {
    private var atLineStart = true
    private var pendingCR = false
    private var offset = 0
    private var failed: DataEncodingError?

    public init() {}

    /// Dot-stuffs a whole message and appends the terminator.
    public static func stuff(_ message: [UInt8]) throws(DataEncodingError) -> [UInt8] {
        var encoder = DataEncoder()
        var out: [UInt8] = []
        out.reserveCapacity(message.count + message.count / 64 + 5)
        try encoder.encode(message, into: &out)
        try encoder.finish(into: &out)
        return out
    }

    /// Dot-stuffs one chunk of the message.
    public mutating func encode(_ chunk: [UInt8], into output: inout [UInt8]) throws(DataEncodingError) {
        try encode(chunk[...], into: &output)
    }

    /// Dot-stuffs one chunk of the message. After an error the encoder keeps failing.
    public mutating func encode(_ chunk: ArraySlice<UInt8>, into output: inout [UInt8]) throws(DataEncodingError) {
        if let failed { throw failed }
        let result: DataEncodingError? = chunk.withUnsafeBufferPointer { p in
            let n = p.count
            var i = 0
            var runStart = 0
            while i < n {
                if pendingCR {
                    guard p[i] == ASCIIByte.lf else { return .bareCarriageReturn(offset: offset + i - 1) }
                    pendingCR = false
                    atLineStart = true
                    i += 1
                    continue
                }
                if atLineStart {
                    atLineStart = false
                    if p[i] == ASCIIByte.dot {
                        output.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<i]))
                        output.append(ASCIIByte.dot)  // the stuffed dot; the original follows in the run
                        runStart = i
                    }
                }
                let j = ByteScan.firstCROrLF(p, from: i, to: n)
                if j == n { break }
                if p[j] == ASCIIByte.lf { return .bareLineFeed(offset: offset + j) }
                pendingCR = true
                i = j + 1
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<n]))
            return nil
        }
        if let result {
            failed = result
            throw result
        }
        offset += chunk.count
    }

    /// Ends the message: adds CRLF if the message did not end with one, then `.<CRLF>`.
    public mutating func finish(into output: inout [UInt8]) throws(DataEncodingError) {
        if let failed { throw failed }
        if pendingCR {
            let error = DataEncodingError.bareCarriageReturn(offset: offset - 1)
            failed = error
            throw error
        }
        if !atLineStart {
            output.append(ASCIIByte.cr)
            output.append(ASCIIByte.lf)
        }
        output.append(contentsOf: [ASCIIByte.dot, ASCIIByte.cr, ASCIIByte.lf])
        atLineStart = true
    }
}

// MARK: - BDAT

/// Counts exactly the `chunkSize` octets of one BDAT chunk (RFC 3030 §2) across reads.
/// Binary-safe: no unstuffing, no line handling.
public struct BDATChunkReader: Sendable {
    /// The size announced by `BDAT <size>`.
    public let chunkSize: Int
    /// Octets of the chunk still to come.
    public private(set) var remaining: Int

    public init(chunkSize: Int) {
        precondition(chunkSize >= 0)
        self.chunkSize = chunkSize
        self.remaining = chunkSize
    }

    /// True once all `chunkSize` octets have been read.
    public var isComplete: Bool { remaining == 0 }

    /// The prefix of `bytes` that belongs to the chunk (consume its count); the rest is the next
    /// command.
    public mutating func read(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let n = min(remaining, bytes.count)
        remaining -= n
        return bytes.prefix(n)
    }

    /// How many bytes at the front of `bytes` belong to the chunk.
    public mutating func read(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = min(remaining, bytes.count)
        remaining -= n
        return n
    }
}
