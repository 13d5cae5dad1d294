/// Content-Transfer-Encoding decoding, RFC 2045 §6. Needed for IMAP BINARY (RFC 3516) and for
/// reading text parts. Both decoders are tolerant: mail in the wild is often slightly broken,
/// and a reader would rather see most of the content than none.
public enum TransferEncoding {
    /// Decodes base64 (RFC 2045 §6.8).
    ///
    /// ```
    /// ; RFC 4648 §4 alphabet: A-Z a-z 0-9 + /  with "=" padding
    /// ```
    /// Characters outside the alphabet (line breaks, spaces) are ignored, as §6.8 asks. Padding
    /// ends a quantum; decoding continues after it, which handles concatenated encodings.
    /// Returns nil only when a quantum is left with a single character (6 bits cannot form a byte).
    public static func decodeBase64(_ input: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3 + 3)
        var quantum: UInt32 = 0
        var count = 0
        func finish() -> Bool {
            switch count {
            case 0: break
            case 1: return false
            case 2: out.append(UInt8(truncatingIfNeeded: quantum >> 4))
            case 3:
                out.append(UInt8(truncatingIfNeeded: quantum >> 10))
                out.append(UInt8(truncatingIfNeeded: quantum >> 2))
            default: break
            }
            quantum = 0
            count = 0
            return true
        }
        for b in input {
            if b == UInt8(ascii: "=") {
                guard finish() else { return nil }
                continue
            }
            let v = MIMEBase64.decodeTable[Int(b)]
            if v == 0xFF { continue }
            quantum = quantum << 6 | UInt32(v)
            count += 1
            if count == 4 {
                out.append(UInt8(truncatingIfNeeded: quantum >> 16))
                out.append(UInt8(truncatingIfNeeded: quantum >> 8))
                out.append(UInt8(truncatingIfNeeded: quantum))
                quantum = 0
                count = 0
            }
        }
        guard finish() else { return nil }
        return out
    }

    /// Decodes quoted-printable (RFC 2045 §6.7).
    ///
    /// ```
    /// quoted-printable := qp-line *(CRLF qp-line)
    /// qp-line := *(qp-segment transport-padding CRLF) qp-part transport-padding
    /// qp-segment := qp-section *(SPACE / TAB) "="        ; soft line break
    /// qp-section := [*(ptext / SPACE / TAB) ptext]
    /// ptext := hex-octet / safe-char
    /// hex-octet := "=" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F")
    /// transport-padding := *LWSP-char
    /// ```
    /// Trailing whitespace on a line is transport padding and removed (§6.7 rule 3); "=" at the
    /// end of a line is a soft break; lowercase hex is accepted; an "=" not followed by two hex
    /// digits is kept literally (§6.7 note 1). Line breaks are kept as they are (CRLF or LF).
    public static func decodeQuotedPrintable(_ input: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(input)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var lineStart = 0
        let n = bytes.count
        while lineStart < n {
            var j = lineStart
            while j < n && bytes[j] != MailSyntax.lf { j += 1 }
            var contentEnd = j
            if contentEnd > lineStart && bytes[contentEnd - 1] == MailSyntax.cr { contentEnd -= 1 }
            let breakBytes = bytes[contentEnd..<min(j + 1, n)]
            while contentEnd > lineStart && MailSyntax.isWSP(bytes[contentEnd - 1]) { contentEnd -= 1 }
            var soft = false
            if contentEnd > lineStart && bytes[contentEnd - 1] == UInt8(ascii: "=") {
                soft = true
                contentEnd -= 1
            }
            var i = lineStart
            while i < contentEnd {
                let b = bytes[i]
                if b == UInt8(ascii: "="), i + 2 < contentEnd,
                    let hi = MailSyntax.hexValue(bytes[i + 1]), let lo = MailSyntax.hexValue(bytes[i + 2])
                {
                    out.append(hi << 4 | lo)
                    i += 3
                    continue
                }
                out.append(b)
                i += 1
            }
            if !soft { out += breakBytes }
            lineStart = j + 1
        }
        return out
    }

    /// Encodes base64 (RFC 2045 §6.8), broken into lines of `lineLength` characters joined by
    /// CRLF (76 is the RFC 2045 maximum); nil `lineLength` yields one unbroken line.
    public static func encodeBase64(_ bytes: some Collection<UInt8>, lineLength: Int? = 76) -> String {
        let encoded = MIMEBase64.encode(Array(bytes))
        guard let lineLength, lineLength > 0, encoded.utf8.count > lineLength else { return encoded }
        var out = ""
        var line = 0
        for ch in encoded.unicodeScalars {
            if line == lineLength {
                out += "\r\n"
                line = 0
            }
            out.unicodeScalars.append(ch)
            line += 1
        }
        return out
    }
}

enum MIMEBase64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
