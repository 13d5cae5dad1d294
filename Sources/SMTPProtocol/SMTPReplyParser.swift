import LineFraming
/// A resumable, bounded parser of SMTP replies (RFC 5321 §4.2), for our own SMTP/LMTP client.
///
///     Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
///                      Reply-code [ SP textstring ] CRLF
///     Reply-code     = %x32-35 %x30-35 %x30-39
///
/// Lenient where peers are sloppy and it is harmless: a line may end in LF alone, the second
/// and third digits may be any digit, and the text may hold UTF-8 (decoded with replacement).
/// Strict where it matters: every line of a multi-line reply must carry the same code, and
/// line length and line count are bounded (`Configuration`).
///
/// The enhanced status code (RFC 2034 §3, RFC 3463) is recognised when the first line's text
/// starts with one whose class matches the reply's first digit; it is then removed from every
/// line that carries it, and `SMTPReply.enhanced` is set.
///
/// Buffer contract: every call returns how many bytes it `consumed`; drop exactly that many,
/// whatever the result. Complete continuation lines are consumed into the parser's state, so
/// `.needMoreBytes` may come with `consumed > 0`. After `.error` the state is reset; the client
/// should close the connection, because the reply stream can no longer be trusted.
public struct SMTPReplyParser: Sendable {
    /// Limits, with the defaults from `SMTPLimits`.
    public struct Configuration: Sendable, Hashable {
        /// Longest reply line including CRLF (default `SMTPLimits.maxReplyLineLength`).
        public var maxLineLength: Int
        /// Most lines in one reply (default `SMTPLimits.maxReplyLines`).
        public var maxLines: Int

        public init(maxLineLength: Int = SMTPLimits.maxReplyLineLength, maxLines: Int = SMTPLimits.maxReplyLines) {
            precondition(maxLineLength >= 5 && maxLines >= 1)
            self.maxLineLength = maxLineLength
            self.maxLines = maxLines
        }
    }

    /// Why a reply stream was rejected.
    public enum ParseError: Error, Sendable, Hashable {
        /// A line longer than `maxLineLength` without LF.
        case lineTooLong
        /// More than `maxLines` lines in one reply.
        case tooManyLines
        /// A line that is not `Reply-code [("-" / SP) text]` (its first bytes, for the log).
        case malformedLine(String)
        /// A continuation line with another code than the first line.
        case inconsistentCode(expected: Int, received: Int)
    }

    /// The outcome of one `parse` call.
    public enum ParseResult: Sendable, Hashable {
        case reply(SMTPReply)
        case error(ParseError)
        case needMoreBytes
    }

    public let configuration: Configuration

    private var pendingCode: Int?
    private var pendingLines: [String] = []
    private var pendingEnhanced: EnhancedStatus?

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Parses at most one complete reply from the front of `bytes`. Drop `consumed` bytes.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) -> (result: ParseResult, consumed: Int) {
        parse(bytes: bytes.assumingMemoryBound(to: UInt8.self))
    }

    /// Parses at most one complete reply from the front of `bytes`. Drop `consumed` bytes.
    public mutating func parse(_ bytes: ArraySlice<UInt8>) -> (result: ParseResult, consumed: Int) {
        bytes.withUnsafeBytes { parse($0) }
    }

    /// Parses at most one complete reply and removes the consumed bytes from `buffer`.
    public mutating func parse(_ buffer: inout [UInt8]) -> ParseResult {
        let (result, consumed) = buffer.withUnsafeBytes { parse($0) }
        buffer.removeFirst(consumed)
        return result
    }

    private mutating func reset() {
        pendingCode = nil
        pendingLines = []
        pendingEnhanced = nil
    }

    private mutating func fail(_ error: ParseError, consumed: Int) -> (result: ParseResult, consumed: Int) {
        reset()
        return (.error(error), consumed)
    }

    private mutating func parse(bytes p: UnsafeBufferPointer<UInt8>) -> (result: ParseResult, consumed: Int) {
        var offset = 0
        while true {
            let window = min(p.count, offset + configuration.maxLineLength)
            let lf = ByteScan.firstLF(p, from: offset, to: window)
            if lf == window {
                if p.count - offset < configuration.maxLineLength { return (.needMoreBytes, offset) }
                return fail(.lineTooLong, consumed: p.count)
            }
            let next = lf + 1
            var lineEnd = lf
            if lineEnd > offset, p[lineEnd - 1] == ASCIIByte.cr { lineEnd -= 1 }
            let line = offset..<lineEnd

            func malformed() -> ParseError {
                .malformedLine(String(decoding: UnsafeBufferPointer(rebasing: p[offset..<min(lineEnd, offset + 64)]),
                                      as: UTF8.self))
            }
            guard line.count >= 3, (0x32...0x35).contains(p[offset]), ASCIIByte.isDigit(p[offset + 1]), ASCIIByte.isDigit(p[offset + 2]) else {
                return fail(malformed(), consumed: next)
            }
            let code = Int(p[offset] - 0x30) * 100 + Int(p[offset + 1] - 0x30) * 10 + Int(p[offset + 2] - 0x30)
            let isLast: Bool
            if line.count == 3 {
                isLast = true
            } else if p[offset + 3] == ASCIIByte.sp {
                isLast = true
            } else if p[offset + 3] == 0x2D {  // "-"
                isLast = false
            } else {
                return fail(malformed(), consumed: next)
            }
            if let expected = pendingCode, expected != code {
                return fail(.inconsistentCode(expected: expected, received: code), consumed: next)
            }
            guard pendingLines.count < configuration.maxLines else { return fail(.tooManyLines, consumed: next) }
            pendingCode = code

            var textStart = min(offset + 4, lineEnd)
            if let (status, length) = EnhancedStatus.parse(p, textStart..<lineEnd),
               status.statusClass == code / 100,
               textStart + length == lineEnd || p[textStart + length] == ASCIIByte.sp
            {
                if pendingLines.isEmpty { pendingEnhanced = status }
                if pendingEnhanced != nil {
                    textStart = min(textStart + length + 1, lineEnd)
                }
            }
            pendingLines.append(String(decoding: UnsafeBufferPointer(rebasing: p[textStart..<lineEnd]), as: UTF8.self))
            if isLast {
                let reply = SMTPReply(code: code, enhanced: pendingEnhanced, lines: pendingLines)
                reset()
                return (.reply(reply), next)
            }
            offset = next
        }
    }
}
