/// RFC 7208 §4.6.2: the result a matching mechanism gives.
///
///     qualifier = "+" / "-" / "?" / "~"
enum SPFQualifier: Sendable, Equatable {
    case pass, fail, softfail, neutral

    var result: SPFResult {
        switch self {
        case .pass: .pass
        case .fail: .fail
        case .softfail: .softfail
        case .neutral: .neutral
        }
    }
}

/// RFC 7208 §5's mechanisms, syntax-checked; domain-specs stay unexpanded until evaluation.
enum SPFMechanism: Sendable, Equatable {
    /// `all` (§5.1).
    case all
    /// `"include" ":" domain-spec` (§5.2).
    case include(SPFMacroString)
    /// `"a" [ ":" domain-spec ] [ dual-cidr-length ]` (§5.3).
    case a(SPFMacroString?, ip4Prefix: Int, ip6Prefix: Int)
    /// `"mx" [ ":" domain-spec ] [ dual-cidr-length ]` (§5.4).
    case mx(SPFMacroString?, ip4Prefix: Int, ip6Prefix: Int)
    /// `"ptr" [ ":" domain-spec ]` (§5.5).
    case ptr(SPFMacroString?)
    /// `"ip4" ":" ip4-network [ ip4-cidr-length ]` and the ip6 form (§5.6).
    case ip(SPFAddress, prefix: Int)
    /// `"exists" ":" domain-spec` (§5.7).
    case exists(SPFMacroString)

    /// §4.6.4: the terms that cost DNS queries and count against the limit of 10.
    var queriesDNS: Bool {
        switch self {
        case .all, .ip: false
        case .include, .a, .mx, .ptr, .exists: true
        }
    }
}

/// `directive = [ qualifier ] mechanism` (RFC 7208 §4.6.1).
struct SPFDirective: Sendable, Equatable {
    var qualifier: SPFQualifier
    var mechanism: SPFMechanism
}

/// A syntax error in an SPF record; check_host() gives "permerror" (RFC 7208 §4.6).
struct SPFSyntaxError: Error, Sendable, Equatable {
    var message: String
}

/// An SPF record (RFC 7208 §4.5, §4.6.1), fully syntax-checked before any term is evaluated:
///
///     record    = version terms *SP
///     version   = "v=spf1"
///     terms     = *( 1*SP ( directive / modifier ) )
///     modifier  = redirect / explanation / unknown-modifier
struct SPFRecord: Sendable, Equatable {
    var directives: [SPFDirective] = []
    /// `redirect=` (§6.1), used only when no mechanism matches.
    var redirect: SPFMacroString?
    /// `exp=` (§6.2), used only for a "fail" from this record's own mechanisms.
    var explanation: SPFMacroString?

    /// §4.5: a record starts with "v=spf1" (case-insensitively, §4.6.1) followed by a space or
    /// its end; "v=spf10" and "v=spf1mx" are not SPF records.
    static func isSPFRecord(_ text: String) -> Bool {
        let bytes = Array(text.utf8.prefix(7))
        guard bytes.count >= 6, String(decoding: bytes[0..<6], as: UTF8.self).lowercased() == "v=spf1" else { return false }
        return bytes.count == 6 || bytes[6] == UInt8(ascii: " ")
    }

    /// Parses a record `isSPFRecord` accepted.
    static func parse(_ text: String) throws(SPFSyntaxError) -> SPFRecord {
        var record = SPFRecord()
        // §4.6.1: terms are separated by spaces only; any other control character is an error.
        for term in Array(text.utf8).dropFirst(6).split(separator: UInt8(ascii: " ")) {
            guard term.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw SPFSyntaxError(message: "a term holds a character that is not visible ASCII")
            }
            let shown = String(decoding: term, as: UTF8.self)
            if let (name, value) = modifier(term) {
                switch name {
                case "redirect":
                    guard record.redirect == nil else { throw SPFSyntaxError(message: "redirect= appears twice") }
                    record.redirect = try domainSpec(value, in: shown)
                case "exp":
                    guard record.explanation == nil else { throw SPFSyntaxError(message: "exp= appears twice") }
                    record.explanation = try domainSpec(value, in: shown)
                default:
                    // Appendix A: unknown-modifier = name "=" macro-string; ignored but checked (§6).
                    guard SPFMacroString(parsing: value, context: .unknownModifier) != nil else {
                        throw SPFSyntaxError(message: "bad macro in '\(shown)'")
                    }
                }
            } else {
                record.directives.append(try directive(term, shown: shown))
            }
        }
        return record
    }

    /// `name "=" ...` with `name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )` (§4.6.1); the
    /// name comes back lowercased.
    private static func modifier(_ term: ArraySlice<UInt8>) -> (String, ArraySlice<UInt8>)? {
        guard let first = term.first, isAlpha(first) else { return nil }
        let nameEnd = term.firstIndex { !(isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")) }
        guard let nameEnd, term[nameEnd] == UInt8(ascii: "=") else { return nil }
        return (String(decoding: term[..<nameEnd], as: UTF8.self).lowercased(), term[term.index(after: nameEnd)...])
    }

    private static func directive(_ term: ArraySlice<UInt8>, shown: String) throws(SPFSyntaxError) -> SPFDirective {
        var rest = term
        var qualifier = SPFQualifier.pass
        switch rest.first {
        case UInt8(ascii: "+"): qualifier = .pass
        case UInt8(ascii: "-"): qualifier = .fail
        case UInt8(ascii: "~"): qualifier = .softfail
        case UInt8(ascii: "?"): qualifier = .neutral
        default: break
        }
        if qualifier != .pass || rest.first == UInt8(ascii: "+") { rest = rest.dropFirst() }
        let name = rest.prefix { isAlpha($0) || isDigit($0) }
        rest = rest.dropFirst(name.count)
        let bad = SPFSyntaxError(message: "bad term '\(shown)'")
        let mechanism: SPFMechanism
        switch String(decoding: name, as: UTF8.self).lowercased() {
        case "all":
            guard rest.isEmpty else { throw bad }
            mechanism = .all
        case "include":
            guard rest.first == UInt8(ascii: ":") else { throw bad }
            mechanism = .include(try domainSpec(rest.dropFirst(), in: shown))
        case "exists":
            guard rest.first == UInt8(ascii: ":") else { throw bad }
            mechanism = .exists(try domainSpec(rest.dropFirst(), in: shown))
        case "ptr":
            mechanism = .ptr(try optionalDomainSpec(rest, in: shown))
        case "a", "mx":
            // dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ], taken from the end
            // because a domain-spec may itself hold "/" (§7.1: any visible character but "%").
            var ip4Prefix = 32, ip6Prefix = 128
            if let (digits, before) = trailingSlashDigits(rest), before.last == UInt8(ascii: "/") {
                guard let prefix = cidrLength(digits, maximum: 128) else { throw bad }
                ip6Prefix = prefix
                rest = before.dropLast()
            }
            if let (digits, before) = trailingSlashDigits(rest) {
                guard let prefix = cidrLength(digits, maximum: 32) else { throw bad }
                ip4Prefix = prefix
                rest = before
            }
            let target = try optionalDomainSpec(rest, in: shown)
            mechanism = name.count == 1
                ? .a(target, ip4Prefix: ip4Prefix, ip6Prefix: ip6Prefix)
                : .mx(target, ip4Prefix: ip4Prefix, ip6Prefix: ip6Prefix)
        case "ip4", "ip6":
            guard rest.first == UInt8(ascii: ":") else { throw bad }
            rest = rest.dropFirst()
            let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            let network = Substring(String(decoding: rest[..<slash], as: UTF8.self))
            let isIPv6 = name.last == UInt8(ascii: "6")
            var prefix = isIPv6 ? 128 : 32
            if slash < rest.endIndex {
                guard let length = cidrLength(rest[rest.index(after: slash)...], maximum: prefix) else { throw bad }
                prefix = length
            }
            if isIPv6 {
                guard let (high, low) = SPFAddress.parseIPv6(network) else { throw bad }
                mechanism = .ip(.v6(high: high, low: low), prefix: prefix)
            } else {
                guard let address = SPFAddress.parseIPv4(network) else { throw bad }
                mechanism = .ip(.v4(address), prefix: prefix)
            }
        default:
            throw SPFSyntaxError(message: "unknown mechanism '\(shown)'")
        }
        return SPFDirective(qualifier: qualifier, mechanism: mechanism)
    }

    /// `[ ":" domain-spec ]`: nothing, or a colon and a nonempty domain-spec.
    private static func optionalDomainSpec(_ rest: ArraySlice<UInt8>, in shown: String) throws(SPFSyntaxError) -> SPFMacroString? {
        if rest.isEmpty { return nil }
        guard rest.first == UInt8(ascii: ":") else { throw SPFSyntaxError(message: "bad term '\(shown)'") }
        return try domainSpec(rest.dropFirst(), in: shown)
    }

    /// §7.1:
    ///
    ///     domain-spec = macro-string domain-end
    ///     domain-end  = ( "." toplabel [ "." ] ) / macro-expand
    ///     toplabel    = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
    static func domainSpec(_ bytes: ArraySlice<UInt8>, in shown: String) throws(SPFSyntaxError) -> SPFMacroString {
        guard !bytes.isEmpty, let spec = SPFMacroString(parsing: bytes, context: .domainSpec) else {
            throw SPFSyntaxError(message: "bad domain-spec in '\(shown)'")
        }
        if spec.endsWithMacroExpand { return spec }
        var tail = Array(spec.trailingLiteral.utf8)[...]
        if tail.last == UInt8(ascii: ".") { tail = tail.dropLast() }
        guard let dot = tail.lastIndex(of: UInt8(ascii: ".")), isTopLabel(tail[tail.index(after: dot)...]) else {
            throw SPFSyntaxError(message: "domain-spec in '\(shown)' does not end in a top-level label")
        }
        return spec
    }

    private static func isTopLabel(_ label: ArraySlice<UInt8>) -> Bool {
        guard let first = label.first, let last = label.last,
              label.allSatisfy({ isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "-") }) else { return false }
        if label.contains(UInt8(ascii: "-")) {
            return !(first == UInt8(ascii: "-") || last == UInt8(ascii: "-"))
        }
        return label.contains(where: isAlpha)
    }

    /// `"/" 1*DIGIT` at the end: the digits and what precedes the slash.
    private static func trailingSlashDigits(_ text: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, ArraySlice<UInt8>)? {
        let digitCount = text.reversed().prefix(while: isDigit).count
        guard digitCount > 0 else { return nil }
        let digits = text.suffix(digitCount)
        let before = text.dropLast(digitCount)
        guard before.last == UInt8(ascii: "/") else { return nil }
        return (digits, before.dropLast())
    }

    /// `ip4-cidr-length = "/" ( "0" / %x31-39 0*1DIGIT )`, `ip6-cidr-length = "/" ( "0" / %x31-39 0*2DIGIT )`
    /// (§5.6): no leading zeros, at most 32 or 128.
    private static func cidrLength(_ digits: ArraySlice<UInt8>, maximum: Int) -> Int? {
        guard (1...3).contains(digits.count), digits.allSatisfy(isDigit),
              digits.count == 1 || digits.first != UInt8(ascii: "0") else { return nil }
        let value = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        return value <= maximum ? value : nil
    }

    private static func isAlpha(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
