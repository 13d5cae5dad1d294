/// The client's answer to a SASL challenge, as SMTP (RFC 4954 §4), POP3 (RFC 5034 §4) and
/// ManageSieve (RFC 5804 §2.1) carry it on a line of its own: base64, or `*` to cancel
/// (RFC 4422 §3.5). Blanks around it are tolerated.
public enum SASLResponseLine: Sendable, Hashable {
    /// An initial response sent with the AUTH command (RFC 4954 §4, RFC 5034 §4), decoded:
    /// `=` is an empty response; nil when it is not valid base64.
    public static func decodeInitialResponse(_ text: String) -> [UInt8]? {
        text == "=" ? [] : Base64.decode(text)
    }

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
