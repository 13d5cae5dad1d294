/// One `attribute=value` parameter of a MIME header field (RFC 2045 §5.1, RFC 2183 §2).
public struct MIMEParameter: Sendable, Hashable {
    /// The attribute, ASCII-lowercased (RFC 2045 §5.1: attribute names are case-insensitive).
    public var name: String
    /// The value: unquoted; for RFC 2231 parameters, continuations joined and percent-decoded
    /// and converted from `charset` to a Swift string.
    public var value: String
    /// RFC 2231 §4 charset of an extended value (`title*=us-ascii'en'...`), if it had one.
    public var charset: String?
    /// RFC 2231 §4 language tag of an extended value, if it had one.
    public var language: String?

    public init(name: String, value: String, charset: String? = nil, language: String? = nil) {
        self.name = name
        self.value = value
        self.charset = charset
        self.language = language
    }
}

/// Parsing of MIME parameter lists, with RFC 2231 continuations and charsets.
///
/// ```
/// ; RFC 2045 §5.1
/// parameter := attribute "=" value
/// attribute := token                      ; case-insensitive
/// value := token / quoted-string
/// token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>
/// tspecials :=  "(" / ")" / "<" / ">" / "@" / "," / ";" / ":" / "\" / <"> / "/" / "[" / "]" / "?" / "="
///
/// ; RFC 2231 §3, §4 (with the errata's section numbering)
/// extended-parameter := (extended-initial-name "=" extended-initial-value) /
///                       (extended-other-names "=" extended-other-values)
/// extended-initial-name := attribute [initial-section] "*"
/// extended-other-names := attribute other-sections "*"
/// section := initial-section / other-sections
/// initial-section := "*0"
/// other-sections := "*" ("1" / "2" / "3" / "4" / "5" / "6" / "7" / "8" / "9") *DIGIT
/// extended-initial-value := [charset] "'" [language] "'" extended-other-values
/// extended-other-values := *(ext-octet / attribute-char)
/// ext-octet := "%" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F")
/// ```
public enum MIMEParameters {
    /// At most this many `name=value` pairs are read from one header field.
    public static let maxParameters = 128
    /// RFC 2231 continuation sections beyond `name*N` with N at or above this are ignored.
    public static let maxSections = 256

    /// Reads `; name=value` pairs as written: names lowercased, values unquoted, nothing else
    /// decoded. IMAP BODYSTRUCTURE may want these (RFC 3501 §7.4.2 sends parameters as-is).
    public static func parseRaw(_ text: some StringProtocol) -> [MIMEParameter] {
        var lexer = MIMELexer(Array(text.utf8))
        return lexer.parameterList()
    }

    /// Reads a parameter list and resolves it: RFC 2231 sections are joined in order and
    /// decoded from their charset; an extended `name*` wins over a plain `name`; plain values
    /// that contain RFC 2047 encoded words (a common, non-standard way of sending non-ASCII
    /// filenames) are decoded too. Order of first appearance is kept.
    public static func parse(_ text: some StringProtocol) -> [MIMEParameter] {
        resolve(parseRaw(text))
    }

    static func resolve(_ raw: [MIMEParameter]) -> [MIMEParameter] {
        struct Pieces {
            var plain: String?
            var extended: (value: String, encoded: Bool)?
            var sections: [Int: (value: String, encoded: Bool)] = [:]
        }
        var order: [String] = []
        var pieces: [String: Pieces] = [:]
        for p in raw {
            let (base, section, encoded) = splitName(p.name)
            if pieces[base] == nil {
                order.append(base)
                pieces[base] = Pieces()
            }
            if let section {
                guard section < maxSections, pieces[base]!.sections[section] == nil else { continue }
                pieces[base]!.sections[section] = (p.value, encoded)
            } else if encoded {
                if pieces[base]!.extended == nil { pieces[base]!.extended = (p.value, true) }
            } else if pieces[base]!.plain == nil {
                pieces[base]!.plain = p.value
            }
        }
        var result: [MIMEParameter] = []
        for name in order {
            let piece = pieces[name]!
            if !piece.sections.isEmpty || piece.extended != nil {
                // RFC 2231 §3: sections are joined in numeric order starting at 0; we stop at
                // the first gap rather than guessing what was lost.
                var parts: [(value: String, encoded: Bool)] = []
                if piece.sections.isEmpty, let ext = piece.extended {
                    parts = [ext]
                } else {
                    var n = 0
                    while let s = piece.sections[n] {
                        parts.append(s)
                        n += 1
                    }
                }
                if !parts.isEmpty {
                    result.append(decodeExtended(name: name, parts: parts))
                    continue
                }
            }
            if let plain = piece.plain {
                let value = plain.contains("=?") ? EncodedWord.decode(plain) : plain
                result.append(MIMEParameter(name: name, value: value))
            }
        }
        return result
    }

    /// Splits `name*2*` into ("name", 2, true).
    static func splitName(_ name: String) -> (base: String, section: Int?, encoded: Bool) {
        var bytes = Array(name.utf8)
        var encoded = false
        if bytes.last == UInt8(ascii: "*") {
            encoded = true
            bytes.removeLast()
        }
        if let star = bytes.lastIndex(of: UInt8(ascii: "*")) {
            let digits = bytes[(star + 1)...]
            if !digits.isEmpty, digits.count <= 6, digits.allSatisfy(MailSyntax.isDigit),
                digits.count == 1 || digits.first != UInt8(ascii: "0")
            {
                let n = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                return (String(decoding: bytes[..<star], as: UTF8.self), n, encoded)
            }
        }
        return (String(decoding: bytes, as: UTF8.self), nil, encoded)
    }

    private static func decodeExtended(name: String, parts: [(value: String, encoded: Bool)]) -> MIMEParameter {
        var charset: String? = nil
        var language: String? = nil
        var bytes: [UInt8] = []
        for (index, part) in parts.enumerated() {
            var value = Array(part.value.utf8)[...]
            if index == 0 && part.encoded {
                // extended-initial-value := [charset] "'" [language] "'" extended-other-values
                if let q1 = value.firstIndex(of: UInt8(ascii: "'")),
                    let q2 = value[(q1 + 1)...].firstIndex(of: UInt8(ascii: "'"))
                {
                    let cs = String(decoding: value[..<q1], as: UTF8.self)
                    let lang = String(decoding: value[(q1 + 1)..<q2], as: UTF8.self)
                    charset = cs.isEmpty ? nil : cs
                    language = lang.isEmpty ? nil : lang
                    value = value[(q2 + 1)...]
                }
            }
            bytes += part.encoded ? percentDecode(value) : Array(value)
        }
        let text: String
        if let charset, let decoded = MailCharset.decode(bytes, charset: charset) {
            text = decoded
        } else {
            text = MailSyntax.decodeText(bytes)
        }
        return MIMEParameter(name: name, value: text, charset: charset, language: language)
    }

    /// ext-octet := "%" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F"); a stray "%" stays.
    static func percentDecode(_ s: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == UInt8(ascii: "%"), i + 2 < s.endIndex,
                let hi = MailSyntax.hexValue(s[i + 1]), let lo = MailSyntax.hexValue(s[i + 2])
            {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}

/// A lexer for structured MIME header values (Content-Type, Content-Disposition,
/// Content-Transfer-Encoding, Content-Language): tokens, quoted strings, and CFWS.
struct MIMELexer {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    /// CFWS: whitespace and (possibly nested) comments (RFC 5322 §3.2.2). An unterminated
    /// comment runs to the end of the value.
    mutating func skipCFWS() {
        while index < bytes.count {
            let b = bytes[index]
            if MailSyntax.isWhitespace(b) {
                index += 1
            } else if b == UInt8(ascii: "(") {
                var depth = 0
                while index < bytes.count {
                    let c = bytes[index]
                    if c == UInt8(ascii: "\\") {
                        index += 2
                        continue
                    }
                    if c == UInt8(ascii: "(") { depth += 1 }
                    if c == UInt8(ascii: ")") {
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            break
                        }
                    }
                    index += 1
                }
                index = min(index, bytes.count)
            } else {
                return
            }
        }
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        // 8-bit bytes are tolerated in tokens rather than splitting a word on them.
        b >= 0x80 || EncodedWord.isTokenByte(b)
    }

    /// token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>
    mutating func token() -> String? {
        let start = index
        while let b = peek, MIMELexer.isTokenByte(b) { index += 1 }
        guard index > start else { return nil }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// quoted-string (RFC 5322 §3.2.4) at a DQUOTE; returns the unescaped content. An
    /// unterminated string runs to the end.
    mutating func quotedString() -> [UInt8] {
        index += 1
        var out: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            index += 1
            if b == UInt8(ascii: "\"") { return out }
            if b == UInt8(ascii: "\\") && index < bytes.count {
                out.append(bytes[index])
                index += 1
            } else if b != MailSyntax.cr && b != MailSyntax.lf {
                out.append(b)
            }
        }
        return out
    }

    /// Skips to just after the next ";" (or the end): recovery from a malformed parameter.
    mutating func skipPastSemicolon() {
        while let b = peek {
            index += 1
            if b == UInt8(ascii: ";") { return }
            if b == UInt8(ascii: "\"") {
                index -= 1
                _ = quotedString()
            }
        }
    }

    /// *(";" parameter), tolerant: a missing ";" between parameters, an unquoted value with
    /// spaces or tspecials, and junk between parameters are all accepted or skipped.
    mutating func parameterList() -> [MIMEParameter] {
        var result: [MIMEParameter] = []
        while result.count < MIMEParameters.maxParameters {
            skipCFWS()
            guard let b = peek else { break }
            if b == UInt8(ascii: ";") {
                index += 1
                continue
            }
            guard let name = token() else {
                skipPastSemicolon()
                continue
            }
            skipCFWS()
            guard peek == UInt8(ascii: "=") else {
                skipPastSemicolon()
                continue
            }
            index += 1
            skipCFWS()
            let value: [UInt8]
            if peek == UInt8(ascii: "\"") {
                value = quotedString()
            } else {
                value = looseValue()
            }
            result.append(
                MIMEParameter(name: MailSyntax.asciiLowercased(name), value: MailSyntax.decodeText(value)))
        }
        return result
    }

    /// An unquoted value: RFC 2045 says token, but broken mailers send `name=my file.pdf` or
    /// `name=a/b`; read up to ";" keeping single spaces between words and dropping comments.
    private mutating func looseValue() -> [UInt8] {
        var out: [UInt8] = []
        while let b = peek, b != UInt8(ascii: ";") {
            if MailSyntax.isWhitespace(b) || b == UInt8(ascii: "(") {
                skipCFWS()
                if peek != nil, peek != UInt8(ascii: ";"), !out.isEmpty {
                    // Another word follows: a new `name=` means the ";" was forgotten.
                    if looksLikeParameterStart() { break }
                    out.append(MailSyntax.space)
                }
                continue
            }
            if b == UInt8(ascii: "\"") {
                out += quotedString()
                continue
            }
            out.append(b)
            index += 1
        }
        return out
    }

    private func looksLikeParameterStart() -> Bool {
        var i = index
        while i < bytes.count, MIMELexer.isTokenByte(bytes[i]) { i += 1 }
        guard i > index else { return false }
        while i < bytes.count, MailSyntax.isWSP(bytes[i]) { i += 1 }
        return i < bytes.count && bytes[i] == UInt8(ascii: "=")
    }
}
