/// An envelope mailbox: RFC 5321 §4.1.2 `Mailbox`, extended for SMTPUTF8 by RFC 6531 §3.3.
///
/// The domain is stored ASCII-lowercased because domains are case-insensitive (RFC 5321 §2.4);
/// the local part is kept exactly as given (its case may be significant to the receiving host),
/// but in its unquoted form: `"john doe"@x` has the local part `john doe`, so that two spellings
/// of one mailbox compare equal. ``description`` re-quotes when the grammar needs it.
public struct EmailAddress: Hashable, Sendable, CustomStringConvertible {
    /// RFC 5321 §4.5.3.1.1: "The maximum total length of a user name or other local-part is 64 octets."
    public static let maxLocalPartLength = 64
    /// RFC 5321 §4.5.3.1.2: "The maximum total length of a domain name or number is 255 octets."
    public static let maxDomainLength = 255
    /// RFC 5321 §4.5.3.1.3: reverse-path and forward-path, including "<" and ">", are at most 256 octets.
    public static let maxPathLength = 256
    /// RFC 1035 §2.3.4: a DNS label is at most 63 octets (checked for ASCII labels).
    public static let maxDomainLabelLength = 63

    public let localPart: String
    /// ASCII-lowercased domain, or an address literal such as `[192.0.2.1]` / `[IPv6:2001:db8::1]`.
    /// Empty only for the special `<postmaster>` recipient (RFC 5321 §4.1.1.3).
    public let domain: String

    /// Builds an address without validating it; the domain is ASCII-lowercased.
    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = Self.normalizeDomain(domain)
    }

    /// Parses a bare mailbox (`user@example.com`), allowing SMTPUTF8; nil when invalid.
    public init?(_ string: String) {
        guard let address = try? Self.parse(string) else { return nil }
        self = address
    }

    /// Parses a bare mailbox, without angle brackets.
    ///
    /// ```
    /// ; RFC 5321 §4.1.2, RFC 6531 §3.3
    /// Mailbox        = Local-part "@" ( Domain / address-literal )
    /// Local-part     = Dot-string / Quoted-string
    /// Dot-string     = Atom *("."  Atom)
    /// Atom           = 1*atext                  ; atext =/ UTF8-non-ascii
    /// Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
    /// QcontentSMTP   = qtextSMTP / quoted-pairSMTP
    /// quoted-pairSMTP  = %d92 %d32-126
    /// qtextSMTP      = %d32-33 / %d35-91 / %d93-126   ; =/ UTF8-non-ascii
    /// ```
    /// - Parameter allowUTF8: whether non-ASCII is accepted (the session negotiated SMTPUTF8).
    public static func parse(_ s: String, allowUTF8: Bool = true) throws(AddressError) -> EmailAddress {
        let bytes = Array(s.utf8)
        if bytes.isEmpty { throw .empty }
        var scanner = AddressScanner(bytes: bytes, index: 0, end: bytes.count, allowUTF8: allowUTF8)
        let address = try scanner.scanMailbox()
        guard scanner.index == scanner.end else { throw .unexpectedCharacters }
        // The mailbox must fit in a path once "<" and ">" are added.
        if bytes.count > maxPathLength - 2 { throw .pathTooLong }
        return address
    }

    /// Whether sending this address needs the SMTPUTF8 extension (RFC 6531 §3.4).
    public var requiresSMTPUTF8: Bool {
        localPart.utf8.contains { $0 >= 0x80 } || domain.utf8.contains { $0 >= 0x80 }
    }

    /// The address as it goes on the wire inside a path: the local part quoted when it is not a
    /// valid Dot-string (RFC 5321 §4.1.2), then "@domain". `<postmaster>` renders as `postmaster`.
    public var description: String {
        let local = Self.needsQuoting(localPart) ? Self.quoted(localPart) : localPart
        return domain.isEmpty ? local : local + "@" + domain
    }

    static func normalizeDomain(_ domain: String) -> String {
        let lower = MailSyntax.asciiLowercased(domain)
        // RFC 5321 §4.1.3 spells the tag "IPv6:"; keep that canonical spelling.
        if lower.hasPrefix("[ipv6:") {
            return "[IPv6:" + lower.dropFirst(6)
        }
        return lower
    }

    static func needsQuoting(_ local: String) -> Bool {
        var atomLength = 0
        for b in local.utf8 {
            if b == UInt8(ascii: ".") {
                if atomLength == 0 { return true }
                atomLength = 0
            } else if MailSyntax.isAText(b) || b >= 0x80 {
                atomLength += 1
            } else {
                return true
            }
        }
        return atomLength == 0
    }

    static func quoted(_ local: String) -> String {
        var out = "\""
        for ch in local.unicodeScalars {
            if ch == "\"" || ch == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(ch)
        }
        out += "\""
        return out
    }
}

/// A cursor over the UTF-8 bytes of an address. Shared by ``EmailAddress`` and ``SMTPPath``.
struct AddressScanner {
    let bytes: [UInt8]
    var index: Int
    let end: Int
    let allowUTF8: Bool

    var peek: UInt8? { index < end ? bytes[index] : nil }

    /// Mailbox = Local-part "@" ( Domain / address-literal )
    mutating func scanMailbox() throws(AddressError) -> EmailAddress {
        let localStart = index
        let local: String
        if peek == UInt8(ascii: "\"") {
            local = try scanQuotedString()
        } else {
            local = try scanDotString()
        }
        if index - localStart > EmailAddress.maxLocalPartLength { throw .localPartTooLong }
        guard peek == UInt8(ascii: "@") else {
            throw index == end ? .missingAt : .invalidLocalPart
        }
        index += 1
        let domain: String
        if peek == UInt8(ascii: "[") {
            domain = try scanAddressLiteral()
        } else {
            domain = try scanDomain()
        }
        return EmailAddress(localPart: local, domain: domain)
    }

    /// Dot-string = Atom *("."  Atom)
    mutating func scanDotString() throws(AddressError) -> String {
        let start = index
        while true {
            let atomStart = index
            while let b = peek, MailSyntax.isAText(b) || b >= 0x80 {
                if b >= 0x80 && !allowUTF8 { throw .utf8NotPermitted }
                index += 1
            }
            if index == atomStart {
                if index == start && (peek == UInt8(ascii: "@") || peek == nil) { throw .emptyLocalPart }
                throw .invalidLocalPart
            }
            guard peek == UInt8(ascii: ".") else { break }
            index += 1
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// Quoted-string = DQUOTE *QcontentSMTP DQUOTE; returns the unescaped content.
    mutating func scanQuotedString() throws(AddressError) -> String {
        index += 1
        var out: [UInt8] = []
        while true {
            guard let b = peek else { throw .unterminatedQuotedString }
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                // quoted-pairSMTP = %d92 %d32-126
                guard let c = peek else { throw .unterminatedQuotedString }
                guard c >= 32 && c <= 126 else { throw .invalidLocalPart }
                out.append(c)
                index += 1
            case 32...126:
                out.append(b)
            case 0x80...:
                if !allowUTF8 { throw .utf8NotPermitted }
                out.append(b)
            default:
                throw .invalidLocalPart
            }
        }
    }

    /// ```
    /// Domain         = sub-domain *("." sub-domain)
    /// sub-domain     = Let-dig [Ldh-str]          ; RFC 6531: sub-domain =/ U-label
    /// Ldh-str        = *( ALPHA / DIGIT / "-" ) Let-dig
    /// ```
    mutating func scanDomain() throws(AddressError) -> String {
        let start = index
        while true {
            let labelStart = index
            var ascii = true
            while let b = peek, MailSyntax.isLetDig(b) || b == UInt8(ascii: "-") || b >= 0x80 {
                if b >= 0x80 {
                    if !allowUTF8 { throw .utf8NotPermitted }
                    ascii = false
                }
                index += 1
            }
            if index == labelStart {
                throw (index == start && peek == nil) ? .emptyDomain : .invalidDomain
            }
            if bytes[labelStart] == UInt8(ascii: "-") || bytes[index - 1] == UInt8(ascii: "-") {
                throw .invalidDomain
            }
            // U-labels are bounded by their A-label form, which we do not compute here.
            if ascii && index - labelStart > EmailAddress.maxDomainLabelLength { throw .invalidDomain }
            guard peek == UInt8(ascii: ".") else { break }
            index += 1
        }
        if index - start > EmailAddress.maxDomainLength { throw .domainTooLong }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// ```
    /// address-literal  = "[" ( IPv4-address-literal / IPv6-address-literal /
    ///                          General-address-literal ) "]"
    /// IPv4-address-literal  = Snum 3("."  Snum)
    /// IPv6-address-literal  = "IPv6:" IPv6-addr
    /// General-address-literal  = Standardized-tag ":" 1*dcontent
    /// Standardized-tag  = Ldh-str
    /// dcontent       = %d33-90 / %d94-126
    /// ```
    mutating func scanAddressLiteral() throws(AddressError) -> String {
        let open = index
        index += 1
        let start = index
        while let b = peek, b != UInt8(ascii: "]") {
            guard (b >= 33 && b <= 90) || (b >= 94 && b <= 126) else { throw .invalidAddressLiteral }
            index += 1
        }
        guard peek == UInt8(ascii: "]") else { throw .invalidAddressLiteral }
        let content = bytes[start..<index]
        index += 1
        if index - open > EmailAddress.maxDomainLength { throw .domainTooLong }
        if let colon = content.firstIndex(of: UInt8(ascii: ":")) {
            let tag = content[start..<colon]
            let rest = content[(colon + 1)...]
            if MailSyntax.equalsIgnoringASCIICase(tag, "IPv6".utf8) {
                guard AddressLiteralGrammar.isIPv6(rest) else { throw .invalidAddressLiteral }
            } else {
                guard AddressLiteralGrammar.isLdhStr(tag), !rest.isEmpty else { throw .invalidAddressLiteral }
            }
        } else {
            guard AddressLiteralGrammar.isIPv4(content) else { throw .invalidAddressLiteral }
        }
        return String(decoding: bytes[open..<index], as: UTF8.self)
    }
}

/// Address-literal validation, RFC 5321 §4.1.3.
enum AddressLiteralGrammar {
    /// Snum = 1*3DIGIT  ; representing a decimal integer value in the range 0 through 255
    static func isIPv4(_ s: ArraySlice<UInt8>) -> Bool {
        let parts = s.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard (1...3).contains(part.count), part.allSatisfy(MailSyntax.isDigit) else { return false }
            return part.reduce(0) { $0 * 10 + Int($1 - 0x30) } <= 255
        }
    }

    /// Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
    static func isLdhStr(_ s: ArraySlice<UInt8>) -> Bool {
        guard let last = s.last, MailSyntax.isLetDig(last) else { return false }
        return s.allSatisfy { MailSyntax.isLetDig($0) || $0 == UInt8(ascii: "-") }
    }

    /// ```
    /// IPv6-addr      = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp
    /// IPv6-hex       = 1*4HEXDIG
    /// IPv6-full      = IPv6-hex 7(":" IPv6-hex)
    /// IPv6-comp      = [IPv6-hex *5(":" IPv6-hex)] "::" [IPv6-hex *5(":" IPv6-hex)]
    /// IPv6v4-full    = IPv6-hex 5(":" IPv6-hex) ":" IPv4-address-literal
    /// IPv6v4-comp    = [IPv6-hex *3(":" IPv6-hex)] "::" [IPv6-hex *3(":" IPv6-hex) ":"] IPv4-address-literal
    /// ```
    /// "::" stands for at least two groups, so a compressed form has at most six explicit ones.
    static func isIPv6(_ s: ArraySlice<UInt8>) -> Bool {
        let bytes = Array(s)
        guard !bytes.isEmpty else { return false }
        var compression: Int? = nil
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: ":") && bytes[i + 1] == UInt8(ascii: ":") {
                if compression != nil { return false }
                compression = i
                i += 2
            } else {
                i += 1
            }
        }
        func groups(_ part: ArraySlice<UInt8>) -> [ArraySlice<UInt8>]? {
            if part.isEmpty { return [] }
            let g = part.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            return g.contains(where: \.isEmpty) ? nil : g
        }
        var all: [ArraySlice<UInt8>]
        if let c = compression {
            guard let left = groups(bytes[0..<c]), let right = groups(bytes[(c + 2)...]) else { return false }
            // An IPv4 tail must come last, after the "::" when one is present.
            if left.contains(where: { $0.contains(UInt8(ascii: ".")) }) { return false }
            all = left + right
        } else {
            guard let g = groups(bytes[...]) else { return false }
            all = g
        }
        var units = 0
        for (n, g) in all.enumerated() {
            if g.contains(UInt8(ascii: ".")) {
                guard n == all.count - 1, isIPv4(g) else { return false }
                units += 2
            } else {
                guard (1...4).contains(g.count), g.allSatisfy({ MailSyntax.hexValue($0) != nil }) else { return false }
                units += 1
            }
        }
        return compression == nil ? units == 8 : units <= 6
    }
}
