/// The xtext encoding of RFC 3461 §4, used by `ENVID`, `ORCPT` and `AUTH=`:
///
///     xtext    = *( xchar / hexchar )
///     xchar    = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
///                except for "+" and "="
///     hexchar  = ASCII "+" immediately followed by two upper case hexadecimal digits
public enum XText {
    /// Decodes xtext; nil when the syntax is wrong or the decoded bytes are not UTF-8.
    /// Lowercase hex digits are accepted (the RFC says upper case; being lenient costs nothing).
    public static func decode(_ text: String) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var it = text.utf8.makeIterator()
        while let b = it.next() {
            if b == 0x2B {  // "+"
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else {
                    return nil
                }
                out.append(hv << 4 | lv)
            } else if b >= 33 && b <= 126 && b != 0x3D {
                out.append(b)
            } else {
                return nil
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// Encodes text as xtext: `+`, `=` and everything outside 33...126 become `+XX`.
    public static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        for b in text.utf8 {
            if b >= 33 && b <= 126 && b != 0x2B && b != 0x3D {
                out.append(b)
            } else {
                out.append(0x2B)
                out.append(hexDigit(b >> 4))
                out.append(hexDigit(b & 0xF))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }
}
