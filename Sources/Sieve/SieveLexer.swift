/// The tokens of RFC 5228 §8.1, with the position each starts at (1-based line and column,
/// columns counted in bytes).
struct SievePosition: Sendable, Equatable {
    var line: Int
    var column: Int
}

enum SieveToken: Sendable, Equatable {
    case identifier(String)
    case tag(String)
    case number(Int)
    case string(String)
    case punctuation(UInt8)
    case end
}

/// Splits a script into tokens. Comments (`#` to the end of the line, `/* */`) are skipped;
/// both quoted strings and `text:` multi-line strings become `.string`.
///
/// ```
/// ; RFC 5228 §8.1
/// identifier   = (ALPHA / "_") *(ALPHA / DIGIT / "_")
/// tag          = ":" identifier
/// number       = 1*DIGIT [ QUANTIFIER ]        ; QUANTIFIER = "K" / "M" / "G"
/// quoted-string = DQUOTE quoted-text DQUOTE    ; \" and \\ escape, other \x is x
/// multi-line   = "text:" *(SP / HTAB) (hash-comment / CRLF)
///                *(multiline-literal / multiline-dotstart) "." CRLF
/// ```
/// Bare LF is accepted wherever CRLF is (scripts edited on Unix).
struct SieveLexer {
    /// Bounds a script's size and a number's value (RFC 5228 §2.4.1: at least 2^31 - 1 must be
    /// representable; up to 1 TiB is, larger numbers are refused, not wrapped).
    static let maxScriptBytes = 1 << 20
    static let maxNumber = 1 << 40

    private let bytes: [UInt8]
    private var offset = 0
    private var line = 1
    private var lineStart = 0

    init(_ source: String) {
        bytes = Array(source.utf8)
    }

    private var position: SievePosition { SievePosition(line: line, column: offset - lineStart + 1) }

    private func error(_ message: String, at position: SievePosition? = nil) -> SieveError {
        let p = position ?? self.position
        return SieveError(line: p.line, column: p.column, message: message)
    }

    private var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private mutating func advance() {
        if bytes[offset] == UInt8(ascii: "\n") {
            line += 1
            lineStart = offset + 1
        }
        offset += 1
    }

    /// All tokens, ending with `.end`.
    mutating func tokens() throws(SieveError) -> [(SieveToken, SievePosition)] {
        guard bytes.count <= Self.maxScriptBytes else { throw error("script larger than \(Self.maxScriptBytes) bytes") }
        var result: [(SieveToken, SievePosition)] = []
        while true {
            try skipWhitespaceAndComments()
            let start = position
            guard let c = current else {
                result.append((.end, start))
                return result
            }
            result.append((try token(c, start), start))
        }
    }

    private mutating func skipWhitespaceAndComments() throws(SieveError) {
        while let c = current {
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                advance()
            case UInt8(ascii: "#"):
                while let c = current, c != UInt8(ascii: "\n") { _ = c; advance() }
            case UInt8(ascii: "/") where offset + 1 < bytes.count && bytes[offset + 1] == UInt8(ascii: "*"):
                let start = position
                advance(); advance()
                while true {
                    guard let c = current else { throw error("unterminated /* comment", at: start) }
                    if c == UInt8(ascii: "*"), offset + 1 < bytes.count, bytes[offset + 1] == UInt8(ascii: "/") {
                        advance(); advance()
                        break
                    }
                    advance()
                }
            default:
                return
            }
        }
    }

    private static func isAlpha(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_")
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private mutating func identifier() -> String {
        let start = offset
        while let c = current, Self.isAlpha(c) || Self.isDigit(c) { advance() }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }

    private mutating func token(_ c: UInt8, _ start: SievePosition) throws(SieveError) -> SieveToken {
        switch c {
        case _ where Self.isAlpha(c):
            let name = identifier()
            if name.lowercased() == "text", current == UInt8(ascii: ":") {
                advance()
                return .string(try multiLine(start))
            }
            return .identifier(name.lowercased())
        case UInt8(ascii: ":"):
            advance()
            guard let n = current, Self.isAlpha(n) else { throw error("\":\" must start a tag such as :is", at: start) }
            return .tag(identifier().lowercased())
        case _ where Self.isDigit(c):
            var value = 0
            while let d = current, Self.isDigit(d) {
                value = value * 10 + Int(d - UInt8(ascii: "0"))
                guard value <= Self.maxNumber else { throw error("number too large", at: start) }
                advance()
            }
            if let q = current {
                let scale: Int? = switch q | 0x20 {
                case UInt8(ascii: "k"): 1024
                case UInt8(ascii: "m"): 1024 * 1024
                case UInt8(ascii: "g"): 1024 * 1024 * 1024
                default: nil
                }
                if let scale {
                    advance()
                    guard value <= Self.maxNumber / scale else { throw error("number too large", at: start) }
                    value *= scale
                }
            }
            if let n = current, Self.isAlpha(n) { throw error("unexpected \"\(Character(Unicode.Scalar(n)))\" after a number") }
            return .number(value)
        case UInt8(ascii: "\""):
            return .string(try quoted(start))
        case UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: ","), UInt8(ascii: ";"):
            advance()
            return .punctuation(c)
        default:
            let shown = c < 0x80 && c >= 0x20 ? "\"\(Character(Unicode.Scalar(c)))\"" : "byte \(c)"
            throw error("unexpected \(shown)")
        }
    }

    /// RFC 5228 §2.4.2: `\"` and `\\` are the escapes; any other backslash is dropped.
    private mutating func quoted(_ start: SievePosition) throws(SieveError) -> String {
        advance()
        var out: [UInt8] = []
        while true {
            guard let c = current else { throw error("unterminated string", at: start) }
            advance()
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") {
                guard let e = current else { throw error("unterminated string", at: start) }
                advance()
                out.append(e)
            } else {
                out.append(c)
            }
        }
        return try text(out, start)
    }

    /// `text:` then the rest of the line (only whitespace or a comment), then lines up to a line
    /// holding a single ".". A line starting with ".." loses one dot (§2.4.2).
    private mutating func multiLine(_ start: SievePosition) throws(SieveError) -> String {
        while let c = current, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { advance() }
        if current == UInt8(ascii: "#") {
            while let c = current, c != UInt8(ascii: "\n") { advance() }
        } else if current == UInt8(ascii: "\r") {
            advance()
        }
        guard current == UInt8(ascii: "\n") else { throw error("text: must be followed by the end of the line") }
        advance()
        var out: [UInt8] = []
        while true {
            guard offset < bytes.count else { throw error("unterminated text: string (a line with a single \".\" ends it)", at: start) }
            var end = offset
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            var lineBytes = bytes[offset..<end]
            if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
            while offset < end { advance() }
            if offset < bytes.count { advance() }
            if lineBytes.elementsEqual([UInt8(ascii: ".")]) { break }
            if lineBytes.first == UInt8(ascii: "."), lineBytes.dropFirst().first == UInt8(ascii: ".") {
                lineBytes = lineBytes.dropFirst()
            }
            out += lineBytes
            out += [13, 10]
        }
        return try text(out, start)
    }

    private func text(_ bytes: [UInt8], _ start: SievePosition) throws(SieveError) -> String {
        // RFC 5228 §8.1: no octet of a string is NUL.
        guard !bytes.contains(0) else { throw error("NUL in a string", at: start) }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw error("string is not UTF-8", at: start) }
        return s
    }
}
