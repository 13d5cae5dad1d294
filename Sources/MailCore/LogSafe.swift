/// Text that came from the network (a client's command, a remote server's reply, a DNS name)
/// made safe to print on one line of a log or a terminal.
///
/// A peer controls these bytes: a CR or LF would forge a log line of its own, an ESC sequence
/// would repaint the administrator's terminal when `swallow queue list` or `tail` shows it. Every
/// control character (Unicode category Cc: C0, DEL, C1) and the Unicode line and paragraph
/// separators become a visible escape; everything printable, UTF-8 included, stays as it is.
///
/// A backslash is left alone on purpose: then escaping twice changes nothing (the output holds
/// no control character), so text escaped where it is stored can be escaped again where it is
/// printed. The cost is that the output is for reading, not for decoding back.
public enum LogSafe {
    public static func escape(_ text: some StringProtocol) -> String {
        var out = String.UnicodeScalarView()
        // Scalars, not Characters: "\r\n" is one Character, and an ESC can combine with what follows.
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\r": out.append(contentsOf: #"\r"#.unicodeScalars)
            case "\n": out.append(contentsOf: #"\n"#.unicodeScalars)
            case "\t": out.append(contentsOf: #"\t"#.unicodeScalars)
            case "\u{1B}": out.append(contentsOf: #"\e"#.unicodeScalars)
            case "\u{2028}", "\u{2029}": out.append(contentsOf: hex(scalar, prefix: #"\u{"#, suffix: "}").unicodeScalars)
            default:
                if scalar.properties.generalCategory != .control {
                    out.append(scalar)
                } else if scalar.value < 0x80 {
                    out.append(contentsOf: hex(scalar, prefix: #"\x"#, suffix: "").unicodeScalars)
                } else {
                    out.append(contentsOf: hex(scalar, prefix: #"\u{"#, suffix: "}").unicodeScalars)
                }
            }
        }
        return String(out)
    }

    private static func hex(_ scalar: Unicode.Scalar, prefix: String, suffix: String) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        return prefix + (digits.count < 2 ? "0" + digits : digits) + suffix
    }
}
