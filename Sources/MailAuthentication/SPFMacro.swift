/// One `%{...}` macro-expand (RFC 7208 §7.1):
///
///     macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
///     transformers = *DIGIT [ "r" ]
///     delimiter    = "." / "-" / "+" / "," / "/" / "_" / "="
struct SPFMacro: Sendable, Equatable {
    /// RFC 7208 §7.3's letters; `c`, `r` and `t` only in explanation text (§7.1).
    enum Letter: UInt8, Sendable {
        case s = 0x73, l = 0x6C, o = 0x6F, d = 0x64, i = 0x69, p = 0x70, h = 0x68, c = 0x63, r = 0x72, t = 0x74, v = 0x76
    }

    var letter: Letter
    /// An uppercase letter: the value is URL-escaped (§7.3).
    var urlEscape: Bool
    /// The DIGIT transformer: keep this many right-hand parts (nonzero, §7.3).
    var rightParts: Int?
    var reverse: Bool
    /// The splitting characters; none given means ".".
    var delimiters: [UInt8]

    /// §7.3: split on the delimiters, optionally reverse, keep the right-hand parts, join with ".",
    /// then URL-escape for an uppercase letter.
    func apply(to value: String) -> String {
        var result = value
        if rightParts != nil || reverse || !delimiters.isEmpty {
            let splitters = delimiters.isEmpty ? [UInt8(ascii: ".")] : delimiters
            var parts = Array(value.utf8).split(omittingEmptySubsequences: false, whereSeparator: splitters.contains)
            if reverse { parts.reverse() }
            if let rightParts, rightParts < parts.count { parts = Array(parts.suffix(rightParts)) }
            result = String(decoding: Array(parts.joined(separator: [UInt8(ascii: ".")])), as: UTF8.self)
        }
        return urlEscape ? SPFMacro.urlEscaped(result) : result
    }

    /// RFC 3986 §2.1 percent-encoding of everything outside §2.3's unreserved set, as §7.3 asks.
    static func urlEscaped(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += byte < 0x10 ? "%0" + hex : "%" + hex
            }
        }
        return out
    }
}

/// A parsed macro-string (RFC 7208 §7.1), ready to expand:
///
///     macro-string  = *( macro-expand / macro-literal )
///     macro-literal = %x21-24 / %x26-7E   ; visible characters except "%"
///     explanation-string = *( macro-string / SP )
struct SPFMacroString: Sendable, Equatable {
    enum Token: Sendable, Equatable {
        case literal(String)
        case macro(SPFMacro)
    }

    /// Where the string stands decides which letters and characters are allowed (§7.1, §6.2).
    enum Context: Sendable {
        /// A mechanism's or `redirect`/`exp` modifier's domain-spec: no `c`, `r`, `t`.
        case domainSpec
        /// The TXT record an `exp` names: every letter, and spaces.
        case explanation
        /// An unknown modifier's value: checked for syntax only (RFC 7208 Appendix A).
        case unknownModifier
    }

    /// Longer expansions are refused: a 4 KiB record of `%{S}` would otherwise expand a long
    /// sender a thousand times over (bounded work, §4.6.4's spirit).
    static let maxExpansionLength = 8192

    let tokens: [Token]
    /// The text ends in a macro-expand, which satisfies domain-end by itself (§7.1).
    let endsWithMacroExpand: Bool
    /// The literal characters after the last macro-expand, for the domain-end check.
    let trailingLiteral: String
    /// The `p` macro appears: its value costs DNS lookups (§7.3), so it is found only when needed.
    var usesValidatedName: Bool {
        tokens.contains { token in
            guard case .macro(let macro) = token else { return false }
            return macro.letter == .p
        }
    }

    init?(parsing bytes: ArraySlice<UInt8>, context: Context) {
        var tokens: [Token] = []
        var literal: [UInt8] = []
        var trailing: [UInt8] = []
        var endsWithMacroExpand = false
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "%") else {
                guard (0x21...0x7E).contains(byte) || (byte == 0x20 && context == .explanation) else { return nil }
                literal.append(byte)
                trailing.append(byte)
                endsWithMacroExpand = false
                index = bytes.index(after: index)
                continue
            }
            let next = bytes.index(after: index)
            guard next < bytes.endIndex else { return nil }
            switch bytes[next] {
            case UInt8(ascii: "%"): literal.append(UInt8(ascii: "%"))
            case UInt8(ascii: "_"): literal.append(UInt8(ascii: " "))
            case UInt8(ascii: "-"): literal += Array("%20".utf8)
            case UInt8(ascii: "{"):
                guard let close = bytes[next...].firstIndex(of: UInt8(ascii: "}")),
                      let macro = SPFMacro.parse(bytes[bytes.index(after: next)..<close], context: context)
                else { return nil }
                if !literal.isEmpty { tokens.append(.literal(String(decoding: literal, as: UTF8.self))) }
                literal.removeAll()
                tokens.append(.macro(macro))
                index = close
            default:
                // §7.1: "A '%' character not followed by a '{', '%', '-', or '_' character is a syntax error."
                return nil
            }
            index = bytes.index(after: max(index, next))
            trailing.removeAll()
            endsWithMacroExpand = true
        }
        if !literal.isEmpty { tokens.append(.literal(String(decoding: literal, as: UTF8.self))) }
        self.tokens = tokens
        self.endsWithMacroExpand = endsWithMacroExpand
        self.trailingLiteral = String(decoding: trailing, as: UTF8.self)
    }

    /// The expansion, or nil past `maxExpansionLength`. `value` gives each letter's raw value.
    func expand(_ value: (SPFMacro.Letter) -> String) -> String? {
        var out = ""
        for token in tokens {
            switch token {
            case .literal(let text): out += text
            case .macro(let macro): out += macro.apply(to: value(macro.letter))
            }
            if out.utf8.count > SPFMacroString.maxExpansionLength { return nil }
        }
        return out
    }
}

extension SPFMacro {
    /// The inside of `%{...}`: `macro-letter transformers *delimiter`.
    static func parse(_ body: ArraySlice<UInt8>, context: SPFMacroString.Context) -> SPFMacro? {
        guard let first = body.first else { return nil }
        let isUpper = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first)
        guard let letter = Letter(rawValue: isUpper ? first + 0x20 : first) else { return nil }
        if context == .domainSpec, [.c, .r, .t].contains(letter) { return nil }
        var rest = body.dropFirst()
        let digits = rest.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        var rightParts: Int?
        if !digits.isEmpty {
            // §7.3 asks for at least 128 parts; a larger count keeps every part, so saturate.
            let value = digits.reduce(0) { min($0 * 10 + Int($1 - UInt8(ascii: "0")), 1_000_000) }
            // §7.3: "If a DIGIT is specified, the value MUST be nonzero."
            guard value > 0 else { return nil }
            rightParts = value
            rest = rest.dropFirst(digits.count)
        }
        var reverse = false
        if let r = rest.first, r == UInt8(ascii: "r") || r == UInt8(ascii: "R") {
            reverse = true
            rest = rest.dropFirst()
        }
        let delimiterSet = Array(".-+,/_=".utf8)
        guard rest.allSatisfy(delimiterSet.contains) else { return nil }
        return SPFMacro(letter: letter, urlEscape: isUpper, rightParts: rightParts, reverse: reverse, delimiters: Array(rest))
    }
}
