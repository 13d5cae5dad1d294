/// The `<...>` paths of MAIL FROM and RCPT TO, RFC 5321 §4.1.2.
///
/// ```
/// Reverse-path   = Path / "<>"
/// Forward-path   = Path
/// Path           = "<" [ A-d-l ":" ] Mailbox ">"
/// A-d-l          = At-domain *( "," At-domain )
/// At-domain      = "@" Domain
/// ```
/// Source routes are accepted and ignored, as RFC 5321 §4.1.1.3 and Appendix C require.
/// The input is exactly the path; use ``splitPath(_:)`` first to separate ESMTP parameters.
public enum SMTPPath {
    /// Parses a MAIL FROM reverse-path; returns nil for the null path `<>` (RFC 5321 §4.5.5).
    public static func parseReversePath(
        _ s: some StringProtocol, allowUTF8: Bool = true
    ) throws(AddressError) -> EmailAddress? {
        try parsePath(Array(s.utf8), allowUTF8: allowUTF8, forward: false)
    }

    /// Parses a RCPT TO forward-path.
    ///
    /// RFC 5321 §4.1.1.3: `"<Postmaster>"` without a domain must be accepted; it is returned as
    /// local part `postmaster` with an empty domain, meaning "the postmaster of this host".
    public static func parseForwardPath(
        _ s: some StringProtocol, allowUTF8: Bool = true
    ) throws(AddressError) -> EmailAddress {
        guard let address = try parsePath(Array(s.utf8), allowUTF8: allowUTF8, forward: true) else {
            throw .nullPathNotPermitted
        }
        return address
    }

    /// Splits `"<path> PARAM=x ..."` after the closing ">", honouring quoted local parts
    /// (a quoted local part may contain ">" and spaces). Nil when `s` does not start with "<"
    /// or the path never closes.
    public static func splitPath(_ s: Substring) -> (path: Substring, rest: Substring)? {
        let u = s.utf8
        guard u.first == UInt8(ascii: "<") else { return nil }
        var inQuote = false
        var escaped = false
        var i = u.index(after: u.startIndex)
        while i < u.endIndex {
            let b = u[i]
            if escaped {
                escaped = false
            } else if inQuote {
                if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inQuote = false }
            } else if b == UInt8(ascii: "\"") {
                inQuote = true
            } else if b == UInt8(ascii: ">") {
                let end = u.index(after: i)
                return (s[s.startIndex..<end], s[end...])
            }
            i = u.index(after: i)
        }
        return nil
    }

    static func parsePath(_ bytes: [UInt8], allowUTF8: Bool, forward: Bool) throws(AddressError) -> EmailAddress? {
        if bytes.isEmpty { throw .empty }
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "<"), bytes.last == UInt8(ascii: ">") else {
            throw .missingAngleBrackets
        }
        var s = AddressScanner(bytes: bytes, index: 1, end: bytes.count - 1, allowUTF8: allowUTF8)
        if s.index == s.end {
            if forward { throw .nullPathNotPermitted }
            return nil
        }
        if forward && MailSyntax.equalsIgnoringASCIICase(bytes[1..<(bytes.count - 1)], "postmaster".utf8) {
            return EmailAddress(localPart: "postmaster", domain: "")
        }
        if s.peek == UInt8(ascii: "@") {
            while true {
                guard s.peek == UInt8(ascii: "@") else { throw .invalidSourceRoute }
                s.index += 1
                guard (try? s.scanDomain()) != nil else { throw .invalidSourceRoute }
                guard s.peek == UInt8(ascii: ",") else { break }
                s.index += 1
            }
            guard s.peek == UInt8(ascii: ":") else { throw .invalidSourceRoute }
            s.index += 1
        }
        let address = try s.scanMailbox()
        guard s.index == s.end else { throw .unexpectedCharacters }
        if bytes.count > EmailAddress.maxPathLength { throw .pathTooLong }
        return address
    }
}
