/// A message flag (RFC 9051 §2.3.2).
///
/// ```
/// flag           = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
///                  flag-keyword / flag-extension
/// flag-keyword   = "$MDNSent" / "$Forwarded" / "$Junk" / "$NotJunk" / "$Phishing" / atom
/// flag-extension = "\" atom
/// flag-perm      = flag / "\*"                       ; PERMANENTFLAGS only
/// flag-fetch     = flag / obsolete-flag-recent        ; "\Recent", IMAP4rev1 responses only
/// ```
///
/// System flags compare case-insensitively (RFC 9051 §2.3.2); the parser maps them to the
/// dedicated cases. Keywords keep the case the client used.
public enum MessageFlag: Sendable, Hashable, CustomStringConvertible {
    case answered
    case flagged
    case deleted
    case seen
    case draft
    /// `\Recent` (RFC 3501 §2.3.2); never accepted in commands, only sent to IMAP4rev1 clients.
    case recent
    /// A keyword such as `$Forwarded` or `NonJunk` (an atom without backslash).
    case keyword(String)
    /// `\` followed by an atom that is not a system flag, e.g. a future system flag. The value
    /// excludes the backslash.
    case `extension`(String)
    /// `\*`: new keywords may be created (RFC 9051 §7.1, PERMANENTFLAGS only).
    case wildcard

    public static let mdnSent = MessageFlag.keyword("$MDNSent")
    public static let forwarded = MessageFlag.keyword("$Forwarded")
    public static let junk = MessageFlag.keyword("$Junk")
    public static let notJunk = MessageFlag.keyword("$NotJunk")
    public static let phishing = MessageFlag.keyword("$Phishing")

    /// The flag as sent on the wire.
    public var description: String {
        switch self {
        case .answered: "\\Answered"
        case .flagged: "\\Flagged"
        case .deleted: "\\Deleted"
        case .seen: "\\Seen"
        case .draft: "\\Draft"
        case .recent: "\\Recent"
        case .keyword(let k): k
        case .extension(let e): "\\" + e
        case .wildcard: "\\*"
        }
    }

    /// Builds a flag from its wire form (`\Seen`, `$Junk`), mapping system flags in any case.
    /// Returns `nil` for text that is not a valid flag.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard let first = bytes.first else { return nil }
        if first == ASCII.backslash {
            let name = bytes.dropFirst()
            if name.count == 1, name.first == ASCII.star { self = .wildcard; return }
            guard !name.isEmpty, name.allSatisfy(ASCII.isAtomChar) else { return nil }
            self = MessageFlag.systemOrExtension(name)
        } else {
            guard bytes.allSatisfy(ASCII.isAtomChar) else { return nil }
            self = .keyword(text)
        }
    }

    static func systemOrExtension<C: Collection<UInt8>>(_ name: C) -> MessageFlag {
        if ASCII.equalsKeyword(name, "ANSWERED") { return .answered }
        if ASCII.equalsKeyword(name, "FLAGGED") { return .flagged }
        if ASCII.equalsKeyword(name, "DELETED") { return .deleted }
        if ASCII.equalsKeyword(name, "SEEN") { return .seen }
        if ASCII.equalsKeyword(name, "DRAFT") { return .draft }
        if ASCII.equalsKeyword(name, "RECENT") { return .recent }
        return .extension(String(decoding: name, as: UTF8.self))
    }
}

/// A mailbox attribute in LIST / LSUB responses and in `CREATE ... (USE (...))`
/// (RFC 9051 §7.3.1, RFC 5258 §3, RFC 6154 §2), compared case-insensitively.
///
/// ```
/// mbx-list-flag = "\All" / "\Archive" / "\Drafts" / "\Flagged" / "\Junk" / "\Sent" / "\Trash" /
///                 child-mbox-flag / "\Noinferiors" / "\Noselect" / "\Marked" / "\Unmarked" /
///                 "\NonExistent" / "\Subscribed" / "\Remote" / flag-extension
/// ```
public struct MailboxAttribute: Sendable, Hashable, CustomStringConvertible {
    /// The attribute name without the leading backslash, e.g. `HasChildren`.
    public let name: String

    public init(_ name: String) {
        self.name = name.hasPrefix("\\") ? String(name.dropFirst()) : name
    }

    public static func == (a: MailboxAttribute, b: MailboxAttribute) -> Bool {
        a.name.lowercased() == b.name.lowercased()
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(name.lowercased()) }

    public var description: String { "\\" + name }

    // RFC 9051 §7.3.1 / RFC 5258 §3.
    public static let noInferiors = MailboxAttribute("Noinferiors")
    public static let noSelect = MailboxAttribute("Noselect")
    public static let marked = MailboxAttribute("Marked")
    public static let unmarked = MailboxAttribute("Unmarked")
    public static let nonExistent = MailboxAttribute("NonExistent")
    public static let subscribed = MailboxAttribute("Subscribed")
    public static let remote = MailboxAttribute("Remote")
    public static let hasChildren = MailboxAttribute("HasChildren")
    public static let hasNoChildren = MailboxAttribute("HasNoChildren")
    // Special-use (RFC 6154 §2).
    public static let all = MailboxAttribute("All")
    public static let archive = MailboxAttribute("Archive")
    public static let drafts = MailboxAttribute("Drafts")
    public static let flagged = MailboxAttribute("Flagged")
    public static let junk = MailboxAttribute("Junk")
    public static let sent = MailboxAttribute("Sent")
    public static let trash = MailboxAttribute("Trash")
}
