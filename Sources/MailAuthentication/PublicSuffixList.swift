import Foundation

/// The Public Suffix List (https://publicsuffix.org/list/), for DMARC's organizational domain
/// (RFC 7489 §3.2). Debian's `publicsuffix` package installs it at `defaultPath`.
public struct PublicSuffixList: Sendable {
    public static let defaultPath = "/usr/share/publicsuffix/public_suffix_list.dat"

    let rules: Set<String>
    let wildcards: Set<String>
    let exceptions: Set<String>

    /// The list's rules, one per line; comments (`//`) and blank lines ignored. An empty list
    /// makes every domain its own organizational domain's parent ("example.co.uk" → "co.uk"
    /// cannot happen: the implicit rule "*" keeps one label above the top).
    public init(text: String) {
        var rules = Set<String>(), wildcards = Set<String>(), exceptions = Set<String>()
        for line in text.split(whereSeparator: \.isNewline) {
            guard let rule = line.split(whereSeparator: \.isWhitespace).first, !rule.hasPrefix("//") else { continue }
            let lower = rule.lowercased()
            if lower.hasPrefix("!") {
                exceptions.insert(String(lower.dropFirst()))
            } else if lower.hasPrefix("*.") {
                wildcards.insert(String(lower.dropFirst(2)))
            } else {
                rules.insert(lower)
            }
        }
        self.rules = rules; self.wildcards = wildcards; self.exceptions = exceptions
    }

    public init(path: String = PublicSuffixList.defaultPath) throws {
        self.init(text: try String(contentsOfFile: path, encoding: .utf8))
    }

    /// The public suffix of `domain` (the PSL algorithm: the longest matching rule; an
    /// exception rule wins and drops its first label; no match means the last label).
    func publicSuffix(_ labels: [Substring]) -> Int {
        var longest = 1
        for count in 1...labels.count {
            let candidate = labels.suffix(count).joined(separator: ".")
            if exceptions.contains(candidate) { return count - 1 }
            if rules.contains(candidate) { longest = max(longest, count) }
            if count < labels.count, wildcards.contains(candidate) { longest = max(longest, count + 1) }
        }
        return longest
    }

    /// RFC 7489 §3.2: the public suffix plus one label; nil when `domain` is itself a public suffix.
    public func organizationalDomain(_ domain: String) -> String? {
        let labels = domain.lowercased().split(separator: ".")
        guard !labels.isEmpty else { return nil }
        let suffix = publicSuffix(labels)
        guard labels.count > suffix else { return nil }
        return labels.suffix(suffix + 1).joined(separator: ".")
    }
}
