// Byte-level helpers shared by the MailCore parsers. Internal on purpose: the public surface is
// the typed parsers; these are the character classes their grammars are written in.

enum MailSyntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09

    /// RFC 5234 WSP = SP / HTAB
    @inline(__always)
    static func isWSP(_ b: UInt8) -> Bool { b == space || b == tab }

    /// WSP or a line-break byte: what separates words once a header value has been unfolded
    /// (tolerant callers may still see CR/LF when handed unfolded-by-nobody text).
    @inline(__always)
    static func isWhitespace(_ b: UInt8) -> Bool { b == space || b == tab || b == cr || b == lf }

    @inline(__always)
    static func isAlpha(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// RFC 5321 §4.1.2 Let-dig = ALPHA / DIGIT
    @inline(__always)
    static func isLetDig(_ b: UInt8) -> Bool { isAlpha(b) || isDigit(b) }

    /// RFC 5322 §3.2.3
    /// atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "/" / "=" /
    ///         "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"
    static func isAText(_ b: UInt8) -> Bool {
        if isLetDig(b) { return true }
        switch b {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "?"),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "{"),
            UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func asciiLower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// Lowercases ASCII letters only: domain names, MIME types and header names are
    /// case-insensitive in ASCII, and locale-aware lowercasing would change non-ASCII text.
    static func asciiLowercased(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return s }
        return String(decoding: s.utf8.map(asciiLower), as: UTF8.self)
    }

    static func asciiLowercased(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.map(asciiLower), as: UTF8.self)
    }

    static func equalsIgnoringASCIICase(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { asciiLower($0) == asciiLower($1) }
    }

    static func equalsIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        equalsIgnoringASCIICase(a.utf8, b.utf8)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// Header bytes are UTF-8 when valid (RFC 6532), otherwise each byte is taken as
    /// ISO-8859-1: raw 8-bit headers in the wild are mostly Latin-1, and this mapping is total,
    /// so no input is ever rejected.
    static func decodeText(_ bytes: some Collection<UInt8>) -> String {
        if !bytes.contains(where: { $0 >= 0x80 }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        return latin1String(bytes)
    }

    static func latin1String(_ bytes: some Collection<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(Unicode.Scalar(b)) }
        return String(scalars)
    }

    /// Trims WSP (and stray CR/LF) from both ends of a byte slice.
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lo = bytes.startIndex
        var hi = bytes.endIndex
        while lo < hi, isWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, isWhitespace(bytes[hi - 1]) { hi -= 1 }
        return bytes[lo..<hi]
    }

    static func trimmedString(_ s: String) -> String {
        let bytes = Array(s.utf8)
        let t = trimmed(bytes[...])
        if t.count == bytes.count { return s }
        return String(decoding: t, as: UTF8.self)
    }
}
