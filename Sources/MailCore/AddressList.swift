/// A mailbox in a message header (From, To, Cc, ...), RFC 5322 §3.4.
///
/// Unlike ``EmailAddress`` (an envelope address that must be valid), this is whatever a header
/// said, parsed best-effort: the domain may be missing, the local part may be odd.
public struct MailboxAddress: Sendable, Hashable {
    /// The display name with RFC 2047 encoded words decoded; nil when there was none.
    public var displayName: String?
    /// The display name as written: quoted strings unquoted, comments dropped, words joined by
    /// single spaces, encoded words left alone. IMAP ENVELOPE sends this (addr-name,
    /// RFC 3501 §7.4.2 / RFC 9051 §7.5.2).
    public var rawDisplayName: String?
    /// An obsolete source route (`@a.example,@b.example`, RFC 5322 §4.4), without the final ":".
    public var route: String?
    /// The local part, unquoted (`"john doe"` becomes `john doe`).
    public var localPart: String
    /// The domain as written (not lowercased: ENVELOPE reproduces it); nil when absent.
    public var domain: String?

    public init(displayName: String? = nil, rawDisplayName: String? = nil, route: String? = nil, localPart: String, domain: String?) {
        self.displayName = displayName
        self.rawDisplayName = rawDisplayName ?? displayName
        self.route = route
        self.localPart = localPart
        self.domain = domain
    }

    /// `local@domain` (local part quoted when needed), or the local part alone without a domain.
    public var addrSpec: String {
        let local = EmailAddress.needsQuoting(localPart) ? EmailAddress.quoted(localPart) : localPart
        guard let domain else { return local }
        return local + "@" + domain
    }

    /// The envelope form of this mailbox, when it has a domain.
    public var emailAddress: EmailAddress? {
        guard let domain, !domain.isEmpty else { return nil }
        return EmailAddress(localPart: localPart, domain: domain)
    }
}

/// One element of an address list: a mailbox or a group (RFC 5322 §3.4).
public enum AddressListEntry: Sendable, Hashable {
    case mailbox(MailboxAddress)
    /// `name: member, member;` (`undisclosed-recipients:;` has no members).
    case group(name: String, members: [MailboxAddress])

    /// Address lists longer than this many mailboxes (group members included) are cut short.
    public static let maxAddresses = 10_000

    /// Parses an address list (the value of From, To, Cc, Bcc, Reply-To, Sender ...).
    ///
    /// ```
    /// ; RFC 5322 §3.4, §4.4
    /// address-list    = (address *("," address)) / obs-addr-list
    /// address         = mailbox / group
    /// mailbox         = name-addr / addr-spec
    /// name-addr       = [display-name] angle-addr
    /// angle-addr      = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr
    /// obs-angle-addr  = [CFWS] "<" obs-route addr-spec ">" [CFWS]
    /// obs-route       = obs-domain-list ":"
    /// group           = display-name ":" [group-list] ";" [CFWS]
    /// display-name    = phrase
    /// phrase          = 1*word / obs-phrase        ; obs-phrase allows "."
    /// addr-spec       = local-part "@" domain
    /// ```
    /// Comments are ignored; empty list elements (obs-addr-list) are skipped; garbage yields a
    /// best-effort mailbox or is skipped. Never fails.
    public static func parseAddressList(_ value: String) -> [AddressListEntry] {
        parseAddressList(value, decodeEncodedWords: true)
    }

    /// As ``parseAddressList(_:)``; with `decodeEncodedWords: false` display names and group
    /// names are kept raw (what IMAP ENVELOPE sends for a group's name).
    public static func parseAddressList(_ value: String, decodeEncodedWords: Bool) -> [AddressListEntry] {
        var parser = AddressListParser(tokens: AddressListParser.tokenize(Array(value.utf8)), decode: decodeEncodedWords)
        return parser.parseList()
    }

    /// The mailboxes of this entry (the group's members for a group).
    public var mailboxes: [MailboxAddress] {
        switch self {
        case .mailbox(let m): [m]
        case .group(_, let members): members
        }
    }
}

extension Array where Element == AddressListEntry {
    /// Every mailbox in the list, group members included, in order.
    public var allMailboxes: [MailboxAddress] { flatMap(\.mailboxes) }
}

struct AddressListParser {
    enum Kind: Equatable {
        case word, quoted, domainLiteral
        case special(UInt8)
    }

    struct Token {
        var kind: Kind
        var text: [UInt8]
        /// Whether whitespace or a comment preceded this token (words in a phrase are joined
        /// with a space only where the original had one).
        var spaceBefore: Bool
        /// The text of a comment right after this token, parentheses and quoting removed:
        /// `user@example.org (Real Name)` names its mailbox that way (RFC 822's form).
        var commentAfter: [UInt8]? = nil
    }

    let tokens: [Token]
    let decode: Bool
    var i = 0
    var count = 0

    init(tokens: [Token], decode: Bool) {
        self.tokens = tokens
        self.decode = decode
    }

    static let specials: Set<UInt8> = Set("<>@,;:.".utf8)

    /// Lexes into words, quoted strings, domain literals and specials, dropping CFWS
    /// (RFC 5322 §3.2.2). Unterminated quotes, comments and literals run to the end.
    static func tokenize(_ b: [UInt8]) -> [Token] {
        var tokens: [Token] = []
        var space = false
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if MailSyntax.isWhitespace(c) {
                space = true
                i += 1
            } else if c == UInt8(ascii: "(") {
                var depth = 0
                var text: [UInt8] = []
                while i < n {
                    if b[i] == UInt8(ascii: "\\") {
                        if i + 1 < n { text.append(b[i + 1]) }
                        i += 2
                        continue
                    }
                    if b[i] == UInt8(ascii: "(") { depth += 1 }
                    if b[i] == UInt8(ascii: ")") {
                        depth -= 1
                        if depth == 0 {
                            i += 1
                            break
                        }
                    }
                    if depth > 1 || b[i] != UInt8(ascii: "(") { text.append(b[i]) }
                    i += 1
                }
                if let last = tokens.indices.last, tokens[last].commentAfter == nil {
                    tokens[last].commentAfter = text
                }
                space = true
            } else if c == UInt8(ascii: "\"") {
                var text: [UInt8] = []
                i += 1
                while i < n && b[i] != UInt8(ascii: "\"") {
                    if b[i] == UInt8(ascii: "\\") && i + 1 < n { i += 1 }
                    if b[i] != MailSyntax.cr && b[i] != MailSyntax.lf { text.append(b[i]) }
                    i += 1
                }
                i += 1
                tokens.append(Token(kind: .quoted, text: text, spaceBefore: space))
                space = false
            } else if c == UInt8(ascii: "[") {
                let start = i
                while i < n && b[i] != UInt8(ascii: "]") {
                    if b[i] == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
                i = min(i + 1, n)
                tokens.append(Token(kind: .domainLiteral, text: Array(b[start..<i]), spaceBefore: space))
                space = false
            } else if specials.contains(c) {
                tokens.append(Token(kind: .special(c), text: [c], spaceBefore: space))
                space = false
                i += 1
            } else {
                let start = i
                while i < n {
                    let d = b[i]
                    if MailSyntax.isWhitespace(d) || specials.contains(d) || d == UInt8(ascii: "(")
                        || d == UInt8(ascii: "\"") || d == UInt8(ascii: "[")
                    {
                        break
                    }
                    i += 1
                }
                tokens.append(Token(kind: .word, text: Array(b[start..<i]), spaceBefore: space))
                space = false
            }
        }
        return tokens
    }

    func isSpecial(_ index: Int, _ c: Character) -> Bool {
        guard index < tokens.count, case .special(let s) = tokens[index].kind else { return false }
        return s == c.asciiValue!
    }

    func isAnySpecial(_ index: Int, _ set: String) -> Bool {
        guard index < tokens.count, case .special(let s) = tokens[index].kind else { return false }
        return set.utf8.contains(s)
    }

    mutating func parseList() -> [AddressListEntry] {
        var entries: [AddressListEntry] = []
        while i < tokens.count && count < AddressListEntry.maxAddresses {
            if isAnySpecial(i, ",;>") {
                i += 1
                continue
            }
            let before = i
            if let entry = parseAddress(inGroup: false) {
                entries.append(entry)
            }
            if i == before { i += 1 }  // guarantee progress on garbage
        }
        return entries
    }

    /// address = mailbox / group
    mutating func parseAddress(inGroup: Bool) -> AddressListEntry? {
        let phraseStart = i
        while i < tokens.count && !isAnySpecial(i, "<>:,;@") { i += 1 }
        let phrase = phraseStart..<i

        if isSpecial(i, "<") {
            i += 1
            var mailbox = parseAngleAddr()
            if !phrase.isEmpty { setDisplayName(&mailbox, phrase) }
            skipToSeparator()
            count += 1
            return .mailbox(mailbox)
        }
        if isSpecial(i, ":") && !inGroup && !phrase.isEmpty {
            i += 1
            let (raw, decoded) = phraseText(phrase)
            var members: [MailboxAddress] = []
            while i < tokens.count && count < AddressListEntry.maxAddresses {
                if isSpecial(i, ";") {
                    i += 1
                    break
                }
                if isAnySpecial(i, ",>:") {
                    i += 1
                    continue
                }
                let before = i
                if let entry = parseAddress(inGroup: true) { members += entry.mailboxes }
                if i == before { i += 1 }
            }
            skipToSeparator()
            return .group(name: decode ? decoded : raw, members: members)
        }
        if isSpecial(i, "@") {
            i += 1
            let domainStart = i
            while i < tokens.count {
                let t = tokens[i]
                if case .special(let s) = t.kind, s != UInt8(ascii: ".") { break }
                // A word after whitespace that does not follow a dot is no longer the domain.
                if i > domainStart && t.spaceBefore && !isSpecial(i - 1, ".") && !isSpecial(i, ".") { break }
                i += 1
            }
            if isSpecial(i, "<") {
                // `support@x.example <real@y.example>`: an unquoted display name containing
                // "@" (invalid, but common); the angle-addr is the real address.
                let nameEnd = i
                i += 1
                var mailbox = parseAngleAddr()
                setDisplayName(&mailbox, phraseStart..<nameEnd)
                skipToSeparator()
                count += 1
                return .mailbox(mailbox)
            }
            let domain = String(decoding: tokens[domainStart..<i].flatMap(\.text), as: UTF8.self)
            // `Name user@example.com` (a phrase before a bare addr-spec): the local part is the
            // trailing run of words joined by dots or no whitespace; anything before is a name.
            let localStart = localPartStart(phrase)
            var mailbox = MailboxAddress(
                localPart: localPartText(localStart..<phrase.upperBound), domain: domain.isEmpty ? nil : domain)
            if localStart > phrase.lowerBound {
                setDisplayName(&mailbox, phrase.lowerBound..<localStart)
            } else if i > domainStart, let comment = tokens[i - 1].commentAfter {
                // `user@example.org (Real Name)`: the comment after a bare addr-spec is its name
                // (RFC 822 §6.1's form, still common; Dovecot's ENVELOPE shows it too).
                setDisplayName(&mailbox, comment)
            }
            skipToSeparator()
            count += 1
            return .mailbox(mailbox)
        }
        // A bare word list with no "@" or "<": keep it as a local part without a domain
        // (RFC 822 allowed local-only addresses; ENVELOPE shows them with a NIL host).
        guard !phrase.isEmpty else { return nil }
        if isSpecial(i, ":") || isSpecial(i, ">") { i += 1 }
        count += 1
        return .mailbox(MailboxAddress(localPart: localPartText(phrase), domain: nil))
    }

    /// angle-addr after "<": [obs-route] addr-spec ">"
    mutating func parseAngleAddr() -> MailboxAddress {
        var route: String? = nil
        if isSpecial(i, "@") {
            // obs-route = obs-domain-list ":"; look for the ":" before ">" to be sure it is one.
            // Stopping at "<" and ";" too keeps the look-ahead of successive angle-addrs
            // disjoint, so a hostile list cannot make this quadratic.
            var k = i
            while k < tokens.count && !isAnySpecial(k, ":><;") { k += 1 }
            if isSpecial(k, ":") {
                route = String(decoding: tokens[i..<k].flatMap(\.text), as: UTF8.self)
                i = k + 1
            }
        }
        let localStart = i
        while i < tokens.count && !isAnySpecial(i, "@>,;<") { i += 1 }
        let local = localPartText(localStart..<i)
        var domain: String? = nil
        if isSpecial(i, "@") {
            i += 1
            let domainStart = i
            while i < tokens.count && !isAnySpecial(i, ">,;<@:") { i += 1 }
            let d = String(decoding: tokens[domainStart..<i].flatMap(\.text), as: UTF8.self)
            domain = d.isEmpty ? nil : d
        }
        if isSpecial(i, ">") { i += 1 }
        return MailboxAddress(route: route, localPart: local, domain: domain)
    }

    /// After an address, skip anything up to (not including) the next "," or ";".
    mutating func skipToSeparator() {
        while i < tokens.count && !isAnySpecial(i, ",;") { i += 1 }
    }

    mutating func setDisplayName(_ mailbox: inout MailboxAddress, _ phrase: Range<Int>) {
        let (raw, decoded) = phraseText(phrase)
        if raw.isEmpty { return }
        mailbox.rawDisplayName = raw
        mailbox.displayName = decode ? decoded : raw
    }

    /// A display name from a comment's text, white space collapsed.
    func setDisplayName(_ mailbox: inout MailboxAddress, _ comment: [UInt8]) {
        let words = MailSyntax.decodeText(comment).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        let raw = words.joined(separator: " ")
        guard !raw.isEmpty else { return }
        mailbox.rawDisplayName = raw
        mailbox.displayName = decode ? EncodedWord.decode(raw) : raw
    }

    /// The phrase as raw text (words joined by single spaces where the original had
    /// whitespace) and RFC 2047-decoded. Decoding applies to quoted strings too: forbidden by
    /// RFC 2047 §5 but what many mailers produce and every reader accepts.
    func phraseText(_ range: Range<Int>) -> (raw: String, decoded: String) {
        var out: [UInt8] = []
        for t in tokens[range] {
            if t.spaceBefore && !out.isEmpty { out.append(MailSyntax.space) }
            out += t.text
        }
        let raw = MailSyntax.decodeText(out)
        return (raw, EncodedWord.decode(raw))
    }

    /// Where the local part of `phrase "@"` begins: walking back from the "@", tokens belong
    /// to it while they touch (no whitespace between) or are joined by a "." (obs-local-part).
    func localPartStart(_ phrase: Range<Int>) -> Int {
        guard !phrase.isEmpty else { return phrase.lowerBound }
        var k = phrase.upperBound - 1
        while k > phrase.lowerBound, !tokens[k].spaceBefore || isSpecial(k, ".") || isSpecial(k - 1, ".") {
            k -= 1
        }
        return k
    }

    /// obs-local-part = word *("." word): words joined without the CFWS around dots.
    func localPartText(_ range: Range<Int>) -> String {
        MailSyntax.decodeText(tokens[range].flatMap(\.text))
    }
}
