// Character classes of the IMAP grammar (RFC 9051 §9, RFC 3501 §9).

enum ASCII {
    static let nul: UInt8 = 0x00
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let dquote: UInt8 = 0x22
    static let dollar: UInt8 = 0x24
    static let percent: UInt8 = 0x25
    static let leftParen: UInt8 = 0x28
    static let rightParen: UInt8 = 0x29
    static let star: UInt8 = 0x2A
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let colon: UInt8 = 0x3A
    static let lessThan: UInt8 = 0x3C
    static let equals: UInt8 = 0x3D
    static let greaterThan: UInt8 = 0x3E
    static let leftBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let rightBracket: UInt8 = 0x5D
    static let leftBrace: UInt8 = 0x7B
    static let rightBrace: UInt8 = 0x7D
    static let tilde: UInt8 = 0x7E
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= zero && b <= nine }

    /// `CTL = %x00-1F / %x7F` (RFC 5234 B.1).
    @inline(__always) static func isCTL(_ b: UInt8) -> Bool { b < 0x20 || b == 0x7F }

    /// ```
    /// atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
    /// ATOM-CHAR     = <any CHAR except atom-specials>
    /// ```
    @inline(__always) static func isAtomChar(_ b: UInt8) -> Bool {
        if b <= 0x20 || b >= 0x7F { return false }
        switch b {
        case leftParen, rightParen, leftBrace, percent, star, dquote, backslash, rightBracket: return false
        default: return true
        }
    }

    /// `ASTRING-CHAR = ATOM-CHAR / resp-specials`
    @inline(__always) static func isAStringChar(_ b: UInt8) -> Bool { isAtomChar(b) || b == rightBracket }

    /// `tag = 1*<any ASTRING-CHAR except "+">`
    @inline(__always) static func isTagChar(_ b: UInt8) -> Bool { isAStringChar(b) && b != plus }

    /// `list-char = ATOM-CHAR / list-wildcards / resp-specials`
    @inline(__always) static func isListChar(_ b: UInt8) -> Bool {
        isAtomChar(b) || b == percent || b == star || b == rightBracket
    }

    @inline(__always) static func upper(_ b: UInt8) -> UInt8 { (b >= 0x61 && b <= 0x7A) ? b - 0x20 : b }

    /// Case-insensitive comparison of `bytes` with an upper-case ASCII keyword.
    static func equalsKeyword<C: Collection<UInt8>>(_ bytes: C, _ keyword: StaticString) -> Bool {
        guard bytes.count == keyword.utf8CodeUnitCount else { return false }
        return keyword.withUTF8Buffer { kw in
            var i = 0
            for b in bytes {
                if upper(b) != kw[i] { return false }
                i += 1
            }
            return true
        }
    }

    static func uppercased<C: Collection<UInt8>>(_ bytes: C) -> String {
        String(decoding: bytes.map(upper), as: UTF8.self)
    }
}
