/// Reads one command's or test's arguments: tagged arguments first, in any order (RFC 5228
/// §2.6.2), then the positional ones in order.
struct SieveArguments {
    enum Kind {
        case flag, string, strings, number
    }

    struct Tags {
        fileprivate var values: [String: SieveArgument?] = [:]
        /// Where each tag was written, for errors about combinations.
        fileprivate(set) var positions: [String: SievePosition] = [:]

        func has(_ name: String) -> Bool { values[name] != nil }

        func string(_ name: String) -> String? {
            if case .strings(let s, _)?? = values[name], s.count == 1 { return s[0] }
            return nil
        }

        func strings(_ name: String) -> [String]? {
            if case .strings(let s, _)?? = values[name] { return s }
            return nil
        }

        func number(_ name: String) -> Int? {
            if case .number(let n, _)?? = values[name] { return n }
            return nil
        }
    }

    /// Tags that need an extension, and which.
    static let tagExtensions: [String: String] = [
        "copy": "copy", "create": "mailbox", "flags": "imap4flags", "user": "subaddress", "detail": "subaddress",
        "value": "relational", "count": "relational", "index": "index", "last": "index",
        "seconds": "vacation-seconds",
    ]

    private var arguments: [SieveArgument]
    private var index = 0
    private let owner: String
    private let position: SievePosition

    /// `encoded`: the script requires "encoded-character": decode `${hex:}`/`${unicode:}` now.
    init(_ arguments: [SieveArgument], owner: String, at position: SievePosition, encoded: Bool) throws(SieveError) {
        if encoded {
            self.arguments = try arguments.map { argument throws(SieveError) in
                guard case .strings(let list, let p) = argument else { return argument }
                return .strings(try list.map { s throws(SieveError) in
                    guard let decoded = SieveEncodedCharacter.decode(s) else {
                        throw SieveError(line: p.line, column: p.column, message: "${unicode:...} names a code point that does not exist")
                    }
                    return decoded
                }, p)
            }
        } else {
            self.arguments = arguments
        }
        self.owner = owner
        self.position = position
    }

    private func error(_ message: String, at position: SievePosition) -> SieveError {
        SieveError(line: position.line, column: position.column, message: message)
    }

    var remaining: Int { arguments.count - index }
    var peek: SieveArgument? { index < arguments.count ? arguments[index] : nil }
    mutating func skip() { index += 1 }

    mutating func tags(_ spec: [String: Kind], _ compiler: SieveCompiler) throws(SieveError) -> Tags {
        var tags = Tags()
        while case .tag(let name, let p)? = peek {
            guard let kind = spec[name] else { throw error("\(owner): unknown tag :\(name)", at: p) }
            if let ext = Self.tagExtensions[name], !compiler.extensions.contains(ext) {
                throw error(":\(name) needs require \"\(ext)\"", at: p)
            }
            guard !tags.has(name) else { throw error("\(owner): :\(name) given twice", at: p) }
            index += 1
            tags.positions[name] = p
            switch kind {
            case .flag:
                tags.values[name] = .some(nil)
            case .string, .strings:
                guard case .strings(let list, _)? = peek, kind == .strings || list.count == 1 else {
                    throw error(":\(name) takes \(kind == .string ? "a string" : "a string list")", at: peek?.position ?? p)
                }
                tags.values[name] = arguments[index]
                index += 1
            case .number:
                guard case .number? = peek else { throw error(":\(name) takes a number", at: peek?.position ?? p) }
                tags.values[name] = arguments[index]
                index += 1
            }
        }
        return tags
    }

    mutating func strings(_ what: String) throws(SieveError) -> ([String], SievePosition) {
        guard let argument = peek else { throw error("\(owner): \(what) is missing", at: position) }
        guard case .strings(let list, let p) = argument else {
            if case .tag(let t, let p) = argument { throw error("\(owner): unexpected tag :\(t) (tags come first)", at: p) }
            throw error("\(owner): expected \(what)", at: argument.position)
        }
        index += 1
        return (list, p)
    }

    mutating func string(_ what: String) throws(SieveError) -> (String, SievePosition) {
        let (list, p) = try strings(what)
        guard list.count == 1 else { throw error("\(owner): expected \(what), not a list", at: p) }
        return (list[0], p)
    }

    mutating func number(_ what: String) throws(SieveError) -> (Int, SievePosition) {
        guard let argument = peek else { throw error("\(owner): \(what) is missing", at: position) }
        guard case .number(let n, let p) = argument else { throw error("\(owner): expected \(what)", at: argument.position) }
        index += 1
        return (n, p)
    }

    func finish() throws(SieveError) {
        guard let extra = peek else { return }
        throw error("\(owner): unexpected argument", at: extra.position)
    }
}

/// RFC 5228 §2.4.2.4: `${hex:...}` (hex octets, separated by blanks) and `${unicode:...}`
/// (hex code points). A sequence that is not well formed is left as written; octets that are
/// not UTF-8 become U+FFFD. nil: a `${unicode:}` outside 0-D7FF and E000-10FFFF, which the RFC
/// makes an error.
enum SieveEncodedCharacter {
    private struct BadCodePoint: Error {}

    static func decode(_ s: String) -> String? {
        guard s.contains("${") else { return s }
        let chars = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 1 < chars.count, chars[i + 1] == "{", let close = chars[(i + 2)...].firstIndex(of: "}") {
                let inner = String(String.UnicodeScalarView(chars[(i + 2)..<close]))
                let result: String?
                do { result = try decodeOne(inner) } catch { return nil }
                if let decoded = result {
                    out.append(contentsOf: decoded.unicodeScalars)
                    i = close + 1
                    continue
                }
            }
            out.append(chars[i])
            i += 1
        }
        return String(out)
    }

    private static func decodeOne(_ inner: String) throws(BadCodePoint) -> String? {
        guard let colon = inner.firstIndex(of: ":") else { return nil }
        let kind = inner[..<colon].lowercased()
        let words = inner[inner.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        switch kind {
        case "hex":
            var bytes: [UInt8] = []
            for w in words {
                guard w.count <= 2, let b = UInt8(w, radix: 16) else { return nil }
                bytes.append(b)
            }
            return String(decoding: bytes, as: UTF8.self)
        case "unicode":
            var scalars = String.UnicodeScalarView()
            for w in words {
                // unicode-hex = 1*HEXDIG: leading zeros are allowed.
                let digits = w.drop(while: { $0 == "0" })
                guard w.allSatisfy(\.isHexDigit) else { return nil }
                guard digits.count <= 6, let v = UInt32(digits.isEmpty ? "0" : String(digits), radix: 16),
                      let scalar = Unicode.Scalar(v) else { throw BadCodePoint() }
                scalars.append(scalar)
            }
            return String(scalars)
        default:
            return nil
        }
    }
}
