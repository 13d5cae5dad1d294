/// Mailbox name rules shared by every backend (RFC 9051 §5.1).
public enum MailboxName {
    /// The hierarchy delimiter we announce in LIST responses.
    public static let delimiter: Character = "/"
    /// Longest name in UTF-8 octets (Dovecot's limit is similar); bounds every LIST response.
    public static let maxLength = 255
    /// Deepest hierarchy.
    public static let maxDepth = 16

    /// `INBOX` in any case means INBOX (RFC 9051 §5.1), also as the first component.
    public static func normalize(_ name: String) -> String {
        if name.caseInsensitiveCompare("INBOX") { return "INBOX" }
        let prefix = name.prefix(6)
        if prefix.count == 6, String(prefix.prefix(5)).caseInsensitiveCompare("INBOX"), prefix.last == delimiter {
            return "INBOX" + name.dropFirst(5)
        }
        return name
    }

    /// The normalized name, or `.invalidName` saying why.
    public static func validate(_ name: String) throws(StoreError) -> String {
        let n = normalize(name)
        guard !n.isEmpty else { throw .invalidName(name, reason: "empty name") }
        guard n.utf8.count <= maxLength else { throw .invalidName(name, reason: "longer than \(maxLength) octets") }
        let parts = n.split(separator: delimiter, omittingEmptySubsequences: false)
        guard parts.count <= maxDepth else { throw .invalidName(name, reason: "deeper than \(maxDepth) levels") }
        guard !parts.contains(where: \.isEmpty) else { throw .invalidName(name, reason: "empty hierarchy level") }
        for scalar in n.unicodeScalars {
            // Wildcards can never be matched literally by LIST (RFC 9051 §6.3.9); controls are unprintable.
            if scalar == "*" || scalar == "%" { throw .invalidName(name, reason: "contains a wildcard") }
            if scalar.value < 0x20 || scalar.value == 0x7F { throw .invalidName(name, reason: "contains a control character") }
        }
        return n
    }

    /// Every ancestor of `name`, outermost first: `a/b/c` -> `a`, `a/b`.
    public static func ancestors(of name: String) -> [String] {
        let parts = name.split(separator: delimiter)
        guard parts.count > 1 else { return [] }
        return (1..<parts.count).map { parts[0..<$0].joined(separator: String(delimiter)) }
    }
}

extension String {
    fileprivate func caseInsensitiveCompare(_ other: String) -> Bool {
        lowercased() == other.lowercased()
    }
}
