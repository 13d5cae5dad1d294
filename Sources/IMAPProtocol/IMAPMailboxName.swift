/// A mailbox name (or LIST pattern) exactly as it appeared on the wire (RFC 9051 §5.1).
///
/// The bytes are kept as sent: modified UTF-7 under IMAP4rev1 (RFC 3501 §5.1.3), UTF-8 under
/// IMAP4rev2 / `UTF8=ACCEPT` (RFC 9051 §5.1, RFC 6855). Converting between those forms and
/// applying the INBOX rule belong to the caller, which knows what was enabled; ``isInbox`` and
/// ``normalizingInbox(delimiter:)`` help with the latter.
public struct IMAPMailboxName: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The raw name octets.
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    /// The name decoded as UTF-8, or `nil` when the octets are not valid UTF-8.
    public var stringValue: String? {
        String(validating: bytes, as: UTF8.self)
    }

    /// "INBOX" in any case names the user's primary mailbox (RFC 9051 §5.1).
    public var isInbox: Bool { ASCII.equalsKeyword(bytes, "INBOX") }

    /// The name with INBOX in canonical upper case: `inbox` becomes `INBOX`, and, when a hierarchy
    /// delimiter is given, `Inbox/Sub` becomes `INBOX/Sub` (children of INBOX follow the same
    /// rule on servers that let INBOX have children). Other names are returned unchanged.
    public func normalizingInbox(delimiter: UInt8? = nil) -> IMAPMailboxName {
        if isInbox { return IMAPMailboxName(Array("INBOX".utf8)) }
        if let delimiter, bytes.count > 5, bytes[5] == delimiter, ASCII.equalsKeyword(bytes[0..<5], "INBOX") {
            return IMAPMailboxName(Array("INBOX".utf8) + bytes[5...])
        }
        return self
    }

    public var description: String { stringValue ?? String(decoding: bytes, as: UTF8.self) }
}
