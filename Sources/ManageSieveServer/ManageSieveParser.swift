/// One line of ManageSieve input (RFC 5804 §4): a command (an atom) and its arguments, or a
/// SASL response (a string alone).
///
/// ```
/// ; RFC 5804 §4
/// command       = atom *(SP argument) CRLF
/// argument      = string / number
/// string        = quoted / literal-c2s
/// quoted        = DQUOTE *(QUOTED-CHAR / "\" QUOTED-SPECIALS) DQUOTE
/// literal-c2s   = "{" number "+}" CRLF *OCTET     ; "{" number "}" accepted too
/// ```
/// Pure and bounded: a line is at most `maxLine` bytes outside literals, a literal at most
/// `maxLiteral`; the input is never copied before a whole command is buffered.
enum ManageSieveToken: Equatable {
    case atom(String)
    case string([UInt8])
    case number(Int)
}

enum ManageSieveParse: Equatable {
    case needMoreBytes
    /// The tokens of a complete line and how many bytes it took.
    case line([ManageSieveToken], consumed: Int)
    /// A malformed line (consumed through its end when `consumed > 0`; 0: close).
    case error(String, consumed: Int)
}

struct ManageSieveParser {
    var maxLine = 8192
    var maxLiteral = 1 << 20

    func parse(_ bytes: UnsafeRawBufferPointer) -> ManageSieveParse {
        var i = 0
        var tokens: [ManageSieveToken] = []
        var lineBytes = 0
        func lineEnd(from start: Int) -> Int? {
            var j = start
            while j < bytes.count {
                if bytes[j] == UInt8(ascii: "\n") { return j + 1 }
                j += 1
            }
            return nil
        }
        while true {
            guard i < bytes.count else { return lineBytes > maxLine ? .error("line too long", consumed: 0) : .needMoreBytes }
            let c = bytes[i]
            if lineBytes > maxLine { return .error("line too long", consumed: 0) }
            switch c {
            case UInt8(ascii: " "):
                i += 1
                lineBytes += 1
            case UInt8(ascii: "\r"):
                guard i + 1 < bytes.count else { return .needMoreBytes }
                guard bytes[i + 1] == UInt8(ascii: "\n") else { return skip(bytes, from: i, "bare CR") }
                return .line(tokens, consumed: i + 2)
            case UInt8(ascii: "\n"):
                return .line(tokens, consumed: i + 1)
            case UInt8(ascii: "\""):
                var out: [UInt8] = []
                var j = i + 1
                while true {
                    guard j < bytes.count else { return j - i > maxLine ? .error("line too long", consumed: 0) : .needMoreBytes }
                    let d = bytes[j]
                    if d == UInt8(ascii: "\"") { break }
                    if d == UInt8(ascii: "\r") || d == UInt8(ascii: "\n") { return skip(bytes, from: j, "unterminated quoted string") }
                    if d == UInt8(ascii: "\\") {
                        guard j + 1 < bytes.count else { return .needMoreBytes }
                        let e = bytes[j + 1]
                        guard e == UInt8(ascii: "\"") || e == UInt8(ascii: "\\") else {
                            return skip(bytes, from: j, "only \\\" and \\\\ may be escaped")
                        }
                        out.append(e)
                        j += 2
                        continue
                    }
                    out.append(d)
                    j += 1
                }
                tokens.append(.string(out))
                lineBytes += j + 1 - i
                i = j + 1
            case UInt8(ascii: "{"):
                var j = i + 1
                var n = 0
                while j < bytes.count, bytes[j] >= UInt8(ascii: "0"), bytes[j] <= UInt8(ascii: "9") {
                    n = n * 10 + Int(bytes[j] - UInt8(ascii: "0"))
                    guard n <= maxLiteral else { return .error("literal larger than \(maxLiteral) bytes", consumed: 0) }
                    j += 1
                }
                guard j < bytes.count else { return .needMoreBytes }
                guard j > i + 1 else { return skip(bytes, from: j, "a literal needs its size") }
                if bytes[j] == UInt8(ascii: "+") {
                    j += 1
                    guard j < bytes.count else { return .needMoreBytes }
                }
                guard bytes[j] == UInt8(ascii: "}") else { return skip(bytes, from: j, "bad literal") }
                j += 1
                guard j < bytes.count else { return .needMoreBytes }
                if bytes[j] == UInt8(ascii: "\r") {
                    j += 1
                    guard j < bytes.count else { return .needMoreBytes }
                }
                guard bytes[j] == UInt8(ascii: "\n") else { return skip(bytes, from: j, "a literal's size ends its line") }
                j += 1
                guard j + n <= bytes.count else { return .needMoreBytes }
                tokens.append(.string(Array(bytes[j..<(j + n)])))
                i = j + n
                lineBytes = 0
            default:
                var j = i
                while j < bytes.count, bytes[j] > 0x20, bytes[j] < 0x7f, bytes[j] != UInt8(ascii: "\""), bytes[j] != UInt8(ascii: "{") { j += 1 }
                guard j > i else { return skip(bytes, from: i, "unexpected byte") }
                guard j < bytes.count else { return j - i > maxLine ? .error("line too long", consumed: 0) : .needMoreBytes }
                let word = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[i..<j]), as: UTF8.self)
                if let n = Int(word), word.allSatisfy(\.isNumber) { tokens.append(.number(n)) } else { tokens.append(.atom(word)) }
                lineBytes += j - i
                i = j
            }
        }

        func skip(_ bytes: UnsafeRawBufferPointer, from start: Int, _ why: String) -> ManageSieveParse {
            guard let end = lineEnd(from: start) else { return start > maxLine ? .error(why, consumed: 0) : .needMoreBytes }
            return .error(why, consumed: end)
        }
    }
}
