/// The client's answer to a SASL challenge, as SMTP (RFC 4954 §4), POP3 (RFC 5034 §4) and
/// ManageSieve (RFC 5804 §2.1) carry it on a line of its own: base64, or `*` to cancel
/// (RFC 4422 §3.5). Blanks around it are tolerated.
public enum SASLResponseLine: Sendable, Hashable {
    /// The decoded response (may be empty).
    case response([UInt8])
    case cancel
    case invalidBase64

    /// Parses the line content `p[range]` (without its line end).
    public static func parse(_ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> SASLResponseLine {
        let content = p.trimmingBlanks(range)
        if content.count == 1, p[content.lowerBound] == ASCIIByte.star { return .cancel }
        guard let decoded = Base64.decode(UnsafeBufferPointer(rebasing: p[content])) else { return .invalidBase64 }
        return .response(decoded)
    }
}
