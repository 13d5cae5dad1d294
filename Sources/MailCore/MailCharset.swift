/// Decoding of the MIME charsets we support (RFC 2046 §4.1.2 `charset` parameter, RFC 2047 §2).
///
/// Deliberately small and table-driven (no Foundation): UTF-8, US-ASCII, ISO-8859-1,
/// ISO-8859-15 and Windows-1252 cover the overwhelming majority of Western mail. Following the
/// WHATWG Encoding Standard, `iso-8859-1` and `us-ascii` labels are decoded leniently because
/// mail mislabelled that way is common: ISO-8859-1 as Windows-1252, US-ASCII as UTF-8 when the
/// bytes are valid UTF-8 (else Windows-1252).
public enum MailCharset {
    enum Kind {
        case utf8, ascii, latin1, latin9, cp1252
    }

    /// Whether ``decode(_:charset:)`` knows this charset name (case-insensitive, aliases included).
    public static func isSupported(_ charset: String) -> Bool {
        kind(of: charset) != nil
    }

    /// Decodes `bytes` in `charset`; nil when the charset is not supported.
    /// Invalid UTF-8 sequences become U+FFFD rather than failing: a reader should still see
    /// the rest of the text.
    public static func decode(_ bytes: some Collection<UInt8>, charset: String) -> String? {
        guard let kind = kind(of: charset) else { return nil }
        return decode(bytes, kind: kind)
    }

    static func decode(_ bytes: some Collection<UInt8>, kind: Kind) -> String {
        switch kind {
        case .utf8:
            return String(decoding: bytes, as: UTF8.self)
        case .ascii:
            if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            if let s = String(validating: bytes, as: UTF8.self) { return s }
            return singleByte(bytes, high: cp1252High)
        case .latin1, .cp1252:
            return singleByte(bytes, high: cp1252High)
        case .latin9:
            var scalars = String.UnicodeScalarView()
            for b in bytes { scalars.append(latin9Scalar(b)) }
            return String(scalars)
        }
    }

    static func kind(of charset: String) -> Kind? {
        var name = MailSyntax.asciiLowercased(MailSyntax.trimmedString(charset))
        if name.hasPrefix("\"") && name.hasSuffix("\"") && name.count >= 2 {
            name = String(name.dropFirst().dropLast())
        }
        switch name {
        case "utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8":
            return .utf8
        case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "cp367", "ibm367", "iso-ir-6":
            return .ascii
        case "iso-8859-1", "iso8859-1", "iso_8859-1", "iso_8859-1:1987", "latin1", "latin-1", "l1",
            "cp819", "ibm819", "iso-ir-100", "csisolatin1":
            return .latin1
        case "iso-8859-15", "iso8859-15", "iso_8859-15", "latin9", "latin-9", "l9", "csisolatin9":
            return .latin9
        case "windows-1252", "cp1252", "x-cp1252", "cswindows1252":
            return .cp1252
        default:
            return nil
        }
    }

    private static func singleByte(_ bytes: some Collection<UInt8>, high: [UInt16]) -> String {
        var scalars = String.UnicodeScalarView()
        for b in bytes {
            if b >= 0x80 && b <= 0x9F {
                scalars.append(Unicode.Scalar(UInt32(high[Int(b - 0x80)]))!)
            } else {
                scalars.append(Unicode.Scalar(b))
            }
        }
        return String(scalars)
    }

    /// ISO-8859-15 differs from ISO-8859-1 in eight positions (the euro sign and French/Finnish letters).
    private static func latin9Scalar(_ b: UInt8) -> Unicode.Scalar {
        let v: UInt32
        switch b {
        case 0xA4: v = 0x20AC
        case 0xA6: v = 0x0160
        case 0xA8: v = 0x0161
        case 0xB4: v = 0x017D
        case 0xB8: v = 0x017E
        case 0xBC: v = 0x0152
        case 0xBD: v = 0x0153
        case 0xBE: v = 0x0178
        default: v = UInt32(b)
        }
        return Unicode.Scalar(v)!
    }

    /// Windows-1252 0x80...0x9F (WHATWG index); undefined positions map to the C1 control.
    private static let cp1252High: [UInt16] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ]
}
