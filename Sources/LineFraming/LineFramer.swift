/// Cuts command lines out of a byte stream, bounded (DESIGN.md §4): the one framing loop of
/// the line-based protocols (SMTP and LMTP, POP3, ManageSieve). Pure: bytes in, a frame out.
///
/// - A line longer than `limit` (line end included) is consumed and discarded through its LF
///   and reported once as `.rejected(.tooLong)`. While its LF has not arrived the framer keeps
///   consuming, so a caller never buffers more than `limit` bytes for one line.
/// - A bare CR inside a line is refused (`.bareCarriageReturn`): it is how command and
///   message smuggling starts.
/// - `LineEnd.crlf` (SMTP, RFC 5321 §2.3.8) refuses a line that ends in a bare LF;
///   `.crlfOrLF` (POP3, as Dovecot) accepts it.
///
/// Buffer contract: the caller drops exactly `consumed` bytes from the front of its buffer,
/// whatever the frame. `.needMoreBytes` with `consumed == 0` left the input intact.
public struct LineFramer: Sendable {
    public enum LineEnd: Sendable {
        case crlf
        case crlfOrLF
    }

    public enum LineError: Error, Sendable, Hashable {
        /// The line exceeded the limit.
        case tooLong
        case bareLineFeed
        case bareCarriageReturn
    }

    public enum Frame: Sendable, Hashable {
        /// A complete line: its content, without the line end.
        case line(Range<Int>)
        case rejected(LineError)
        case needMoreBytes
    }

    public let lineEnd: LineEnd
    /// An overlong line is being discarded.
    private var discarding = false

    public init(lineEnd: LineEnd) {
        self.lineEnd = lineEnd
    }

    /// True while the framer is discarding the rest of an overlong line.
    public var isDiscardingOverlongLine: Bool { discarding }

    /// Frames at most one line from the front of `p`.
    public mutating func frame(_ p: UnsafeBufferPointer<UInt8>, limit: Int) -> (frame: Frame, consumed: Int) {
        if discarding {
            let lf = ByteScan.firstLF(p, from: 0, to: p.count)
            guard lf < p.count else { return (.needMoreBytes, p.count) }
            discarding = false
            return (.rejected(.tooLong), lf + 1)
        }
        let window = min(p.count, limit)
        let lf = ByteScan.firstLF(p, from: 0, to: window)
        if lf == window {
            if p.count < limit { return (.needMoreBytes, 0) }
            // Overlong: discard through the LF, or everything we have.
            let later = ByteScan.firstLF(p, from: window, to: p.count)
            if later < p.count { return (.rejected(.tooLong), later + 1) }
            discarding = true
            return (.needMoreBytes, p.count)
        }
        let endsInCRLF = lf > 0 && p[lf - 1] == ASCIIByte.cr
        if !endsInCRLF && lineEnd == .crlf { return (.rejected(.bareLineFeed), lf + 1) }
        let contentEnd = endsInCRLF ? lf - 1 : lf
        if ByteScan.firstCROrLF(p, from: 0, to: contentEnd) < contentEnd {
            return (.rejected(.bareCarriageReturn), lf + 1)
        }
        return (.line(0..<contentEnd), lf + 1)
    }
}
