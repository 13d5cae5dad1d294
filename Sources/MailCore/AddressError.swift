/// Why an envelope address or path (RFC 5321 §4.1.2) was rejected.
///
/// Each case names the part that is wrong, so the SMTP layer can answer with a precise
/// `501 5.1.3` / `553 5.1.3` text instead of a generic syntax error.
public enum AddressError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing was given.
    case empty
    /// A mailbox needs `local-part "@" domain`; there is no "@".
    case missingAt
    /// Nothing before the "@" (RFC 5321 Local-part is never empty unless quoted: `""@x`).
    case emptyLocalPart
    /// The local part is neither a Dot-string nor a Quoted-string (RFC 5321 §4.1.2).
    case invalidLocalPart
    /// A Quoted-string local part has no closing DQUOTE.
    case unterminatedQuotedString
    /// Nothing after the "@".
    case emptyDomain
    /// The domain is not `sub-domain *("." sub-domain)` (RFC 5321 §4.1.2).
    case invalidDomain
    /// The `[...]` address literal is not IPv4, `IPv6:` or a general literal (RFC 5321 §4.1.3).
    case invalidAddressLiteral
    /// Local part over 64 octets (RFC 5321 §4.5.3.1.1).
    case localPartTooLong
    /// Domain over 255 octets (RFC 5321 §4.5.3.1.2).
    case domainTooLong
    /// Path over 256 octets including the angle brackets (RFC 5321 §4.5.3.1.3).
    case pathTooLong
    /// Non-ASCII text where SMTPUTF8 (RFC 6531) was not negotiated.
    case utf8NotPermitted
    /// A path must be enclosed in "<" and ">" (RFC 5321 §4.1.2 Path).
    case missingAngleBrackets
    /// The `@a,@b:` source route (A-d-l) is malformed.
    case invalidSourceRoute
    /// `<>` is only allowed as a reverse-path (RFC 5321 §4.5.5), not as a recipient.
    case nullPathNotPermitted
    /// Characters follow a complete mailbox or path.
    case unexpectedCharacters

    public var description: String {
        switch self {
        case .empty: "address is empty"
        case .missingAt: "address has no \"@\""
        case .emptyLocalPart: "local part is empty"
        case .invalidLocalPart: "local part is not a valid dot-string or quoted-string"
        case .unterminatedQuotedString: "quoted local part is not terminated"
        case .emptyDomain: "domain is empty"
        case .invalidDomain: "domain is not a valid domain name"
        case .invalidAddressLiteral: "address literal is not valid"
        case .localPartTooLong: "local part exceeds \(EmailAddress.maxLocalPartLength) octets"
        case .domainTooLong: "domain exceeds \(EmailAddress.maxDomainLength) octets"
        case .pathTooLong: "path exceeds \(EmailAddress.maxPathLength) octets"
        case .utf8NotPermitted: "non-ASCII address requires SMTPUTF8"
        case .missingAngleBrackets: "path must be enclosed in \"<\" and \">\""
        case .invalidSourceRoute: "source route is not valid"
        case .nullPathNotPermitted: "null path \"<>\" is not permitted here"
        case .unexpectedCharacters: "unexpected characters after address"
        }
    }
}
