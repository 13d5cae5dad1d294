import Foundation
import IMAPProtocol
import MailCore

/// SORT (RFC 5256 §3) and its DISPLAYFROM / DISPLAYTO keys (RFC 5957): the values each key
/// compares, the base subject, and the order.
enum SortOrder {
    /// What one message sorts by, one value per criterion.
    enum Value: Equatable {
        case number(Int64)
        case text([UInt8])
    }

    /// The values of `criteria` for one message (`header`: its top-level header, nil when no
    /// criterion needs it).
    static func values(_ criteria: [SortCriterion], message m: SelectedMailbox.Message, header: LoadedMessage?) -> [Value] {
        criteria.map { c in
            switch c.key {
            case .arrival: .number(m.internalDate.seconds)
            case .size: .number(Int64(m.size))
            case .date: .number(sentDate(header) ?? m.internalDate.seconds)
            case .from: .text(casemap(firstMailbox(header, "from")?.localPart ?? ""))
            case .to: .text(casemap(firstMailbox(header, "to")?.localPart ?? ""))
            case .cc: .text(casemap(firstMailbox(header, "cc")?.localPart ?? ""))
            case .displayFrom: .text(casemap(display(firstMailbox(header, "from"))))
            case .displayTo: .text(casemap(display(firstMailbox(header, "to"))))
            case .subject: .text(casemap(baseSubject(header?.headerFields("subject").first?.value ?? "")))
            }
        }
    }

    /// Whether a criterion needs the message's header.
    static func needsHeader(_ criteria: [SortCriterion]) -> Bool {
        criteria.contains { ![.arrival, .size].contains($0.key) }
    }

    /// `a` sorts before `b`: criterion by criterion, REVERSE flipping only its own; equal
    /// messages by sequence number (RFC 5256 §3).
    static func precedes(_ a: (seq: Int, values: [Value]), _ b: (seq: Int, values: [Value]), _ criteria: [SortCriterion]) -> Bool {
        for (k, c) in criteria.enumerated() {
            let order = compare(a.values[k], b.values[k])
            if order != 0 { return c.reverse ? order > 0 : order < 0 }
        }
        return a.seq < b.seq
    }

    private static func compare(_ a: Value, _ b: Value) -> Int {
        switch (a, b) {
        case let (.number(x), .number(y)): x < y ? -1 : x > y ? 1 : 0
        case let (.text(x), .text(y)): x.lexicographicallyPrecedes(y) ? -1 : y.lexicographicallyPrecedes(x) ? 1 : 0
        default: 0
        }
    }

    /// The i;ascii-casemap comparator (RFC 4790 §9.2): octets, with a-z folded to A-Z.
    static func casemap(_ s: String) -> [UInt8] {
        s.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
    }

    /// RFC 5256 §3 DATE: the Date: field in UTC; nil when missing or unreadable (the
    /// internal date is used then).
    private static func sentDate(_ header: LoadedMessage?) -> Int64? {
        guard let field = header?.headerFields("date").first, let date = RFC5322Date.parse(field.value) else { return nil }
        return Int64(date.timeIntervalSince1970)
    }

    private static func firstMailbox(_ header: LoadedMessage?, _ name: String) -> MailboxAddress? {
        guard let field = header?.headerFields(name).first else { return nil }
        return AddressListEntry.parseAddressList(field.value).allMailboxes.first
    }

    /// RFC 5957 §3: the display name of the first address when it has one, else its addr-spec.
    private static func display(_ m: MailboxAddress?) -> String {
        guard let m else { return "" }
        if let name = m.displayName.map(EncodedWord.decode)?.trimmingCharacters(in: .whitespaces), !name.isEmpty { return name }
        return m.addrSpec
    }

    /// The base subject of RFC 5256 §2.1: encoded words decoded, whitespace collapsed, and
    /// reply/forward markers ("Re:", "Fwd:", "[list]", "(fwd)", "[fwd: ...]") removed.
    static func baseSubject(_ raw: String) -> String {
        // (1) Decode, unfold, and collapse runs of whitespace into one space.
        var s = collapse(EncodedWord.decode(raw))
        while true {
            // (2) Trailing "(fwd)" and whitespace.
            while true {
                let trimmed = s.hasSuffix(" ") ? String(s.dropLast()) : s
                if trimmed.lowercased().hasSuffix("(fwd)") {
                    s = String(trimmed.dropLast(5))
                } else {
                    s = trimmed
                    break
                }
            }
            // (3) and (4): leading subj-leader ("Re:", "Fw:", "Fwd:" with an optional blob) and
            // subj-blob when something remains, until neither applies.
            while true {
                let before = s
                s = String(s.drop(while: { $0 == " " }))
                if let rest = dropRefwd(s) { s = String(rest) }
                if let rest = dropBlob(s), !rest.isEmpty, rest.contains(where: { $0 != " " }) {
                    s = String(rest)
                }
                if s == before { break }
            }
            // (5) "[fwd: ... ]" around the whole subject: unwrap and start over.
            if s.lowercased().hasPrefix("[fwd:"), s.hasSuffix("]") {
                s = String(s.dropFirst(5).dropLast())
                continue
            }
            return s
        }
    }

    private static func collapse(_ s: String) -> String {
        var out = ""
        var space = false
        for c in s {
            if c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" {
                space = true
            } else {
                if space && !out.isEmpty { out.append(" ") }
                space = false
                out.append(c)
            }
        }
        return space && !out.isEmpty ? out + " " : out
    }

    /// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`: what follows, or nil.
    private static func dropRefwd(_ s: String) -> Substring? {
        let lower = s.lowercased()
        var rest: Substring
        if lower.hasPrefix("fwd") { rest = s.dropFirst(3) }
        else if lower.hasPrefix("fw") || lower.hasPrefix("re") { rest = s.dropFirst(2) }
        else { return nil }
        rest = rest.drop(while: { $0 == " " })
        if let afterBlob = dropBlob(String(rest)) { rest = afterBlob }
        guard rest.first == ":" else { return nil }
        return rest.dropFirst()
    }

    /// `subj-blob = "[" *BLOBCHAR "]" *WSP`, BLOBCHAR being anything but "[" and "]".
    private static func dropBlob(_ s: String) -> Substring? {
        guard s.first == "[" else { return nil }
        var rest = s.dropFirst()
        while let c = rest.first, c != "]" {
            if c == "[" { return nil }
            rest = rest.dropFirst()
        }
        guard rest.first == "]" else { return nil }
        return rest.dropFirst().drop(while: { $0 == " " })
    }
}

extension IMAPSession {
    /// `[UID] SORT` (RFC 5256 §3): SEARCH's matches, ordered; `* SORT` lists them.
    func sort(_ criteria: [SortCriterion], _ command: SearchCommand, uid: Bool) async throws -> Completion {
        let (_, matched) = try await matches(command)
        let box = try selectedBox()
        var headers: [UInt32: LoadedMessage] = [:]
        if SortOrder.needsHeader(criteria) {
            var start = 0
            while start < matched.count {
                try await ensureClientPresent()
                let end = Self.batchEnd(from: start, count: matched.count, headersOnly: true) { box.messages[matched[$0].seq - 1].size }
                headers.merge(try await loadMessages(box.id, matched[start..<end].map(\.uid), headersOnly: true)) { a, _ in a }
                start = end
            }
        }
        let keyed = matched.map { m in
            (m: m, sort: (seq: m.seq, values: SortOrder.values(criteria, message: box.messages[m.seq - 1], header: headers[m.uid])))
        }
        let sorted = keyed.sorted { SortOrder.precedes($0.sort, $1.sort, criteria) }
        await send(.sort(sorted.map { uid ? $0.m.uid : UInt32($0.m.seq) }))
        return .ok(code: nil, text: "Sort completed.")
    }
}
