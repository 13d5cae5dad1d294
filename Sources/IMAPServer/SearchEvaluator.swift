import Foundation
import IMAPProtocol
import MailCore
import MailStore

/// SEARCH criteria (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 7162 §3.1.5 MODSEQ, RFC 5032
/// OLDER/YOUNGER) evaluated against one message at a time. Pure: the session loads message
/// bytes only when `needsContent` says a key looks inside them.
///
/// String matching is case-insensitive substring matching on Unicode text; header keys match
/// the field value with RFC 2047 encoded words decoded, BODY matches text parts with their
/// transfer encoding and charset removed.
struct SearchProgram {
    indirect enum Key {
        case all
        case none
        case flag(SystemFlags, set: Bool)
        case keyword(String, set: Bool)
        case recent(Bool)
        case new
        case header(String, String)
        case body(String)
        case text(String)
        case internalDate(Comparison, IMAPDate)
        case sentDate(Comparison, IMAPDate)
        case larger(UInt64)
        case smaller(UInt64)
        case uids(UIDSet)
        case sequence(UIDSet)
        case modSeq(UInt64)
        case older(UInt32)
        case younger(UInt32)
        case not(Key)
        case or(Key, Key)
        case and([Key])
    }

    enum Comparison { case before, on, since }

    /// What a message looks like to the evaluator.
    struct Candidate {
        var seq: Int
        var message: SelectedMailbox.Message
        var content: LoadedMessage?
    }

    let key: Key
    let needsContent: Bool
    /// A key looks past the header (BODY, TEXT): the whole message must be loaded.
    let needsBody: Bool
    /// True when the program used MODSEQ (RFC 7162 §3.1.5: the result then carries MODSEQ).
    let usesModSeq: Bool

    /// Resolves sequence sets against the mailbox (`*`, `$`) once, up front.
    init(_ key: SearchKey, mailbox: SelectedMailbox, saved: [UInt32]?) {
        var needs = false
        var modseq = false
        self.key = Self.compile(key, mailbox, saved, &needs, &modseq)
        needsContent = needs
        needsBody = Self.looksInBody(self.key)
        usesModSeq = modseq
    }

    private static func looksInBody(_ key: Key) -> Bool {
        switch key {
        case .body, .text: true
        case .not(let k): looksInBody(k)
        case .or(let a, let b): looksInBody(a) || looksInBody(b)
        case .and(let keys): keys.contains(where: looksInBody)
        default: false
        }
    }

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).lowercased()
    }

    private static func compile(_ k: SearchKey, _ box: SelectedMailbox, _ saved: [UInt32]?, _ needs: inout Bool,
                                _ modseq: inout Bool) -> Key {
        switch k {
        case .all: return .all
        case .answered: return .flag(.answered, set: true)
        case .deleted: return .flag(.deleted, set: true)
        case .draft: return .flag(.draft, set: true)
        case .flagged: return .flag(.flagged, set: true)
        case .seen: return .flag(.seen, set: true)
        case .unanswered: return .flag(.answered, set: false)
        case .undeleted: return .flag(.deleted, set: false)
        case .undraft: return .flag(.draft, set: false)
        case .unflagged: return .flag(.flagged, set: false)
        case .unseen: return .flag(.seen, set: false)
        case .keyword(let f): return keyword(f, set: true)
        case .unkeyword(let f): return keyword(f, set: false)
        case .new: return .new
        case .old: return .recent(false)
        case .recent: return .recent(true)
        case .bcc(let s): needs = true; return .header("bcc", text(s))
        case .cc(let s): needs = true; return .header("cc", text(s))
        case .from(let s): needs = true; return .header("from", text(s))
        case .to(let s): needs = true; return .header("to", text(s))
        case .subject(let s): needs = true; return .header("subject", text(s))
        case .header(let field, let value): needs = true; return .header(field.lowercased(), text(value))
        case .body(let s): needs = true; return .body(text(s))
        case .text(let s): needs = true; return .text(text(s))
        case .before(let d): return .internalDate(.before, d)
        case .on(let d): return .internalDate(.on, d)
        case .since(let d): return .internalDate(.since, d)
        case .sentBefore(let d): needs = true; return .sentDate(.before, d)
        case .sentOn(let d): needs = true; return .sentDate(.on, d)
        case .sentSince(let d): needs = true; return .sentDate(.since, d)
        case .larger(let n): return .larger(n)
        case .smaller(let n): return .smaller(n)
        case .older(let n): return .older(n)
        case .younger(let n): return .younger(n)
        case .modSeq(let n, _): modseq = true; return .modSeq(n)
        case .uid(let set):
            var ranges: [ClosedRange<UInt32>] = []
            for e in set.elements {
                if case .savedResult = e { ranges += (saved ?? []).map { $0...$0 } } else { ranges += SequenceSet([e]).resolved(largest: box.lastUID) }
            }
            return .uids(UIDSet(ranges))
        case .sequenceSet(let set):
            var ranges: [ClosedRange<UInt32>] = []
            for e in set.elements {
                if case .savedResult = e {
                    ranges += (saved ?? []).compactMap { box.index(ofUID: $0) }.map { UInt32($0 + 1)...UInt32($0 + 1) }
                } else if box.count > 0 {
                    ranges += SequenceSet([e]).resolved(largest: UInt32(box.count))
                }
            }
            return .sequence(UIDSet(ranges))
        case .not(let inner): return .not(compile(inner, box, saved, &needs, &modseq))
        case .or(let a, let b): return .or(compile(a, box, saved, &needs, &modseq), compile(b, box, saved, &needs, &modseq))
        case .and(let keys): return .and(keys.map { compile($0, box, saved, &needs, &modseq) })
        }
    }

    private static func keyword(_ f: MessageFlag, set: Bool) -> Key {
        switch f {
        case .answered: return .flag(.answered, set: set)
        case .flagged: return .flag(.flagged, set: set)
        case .deleted: return .flag(.deleted, set: set)
        case .seen: return .flag(.seen, set: set)
        case .draft: return .flag(.draft, set: set)
        case .keyword(let k): return .keyword(k.lowercased(), set: set)
        case .recent, .extension, .wildcard: return set ? .none : .all
        }
    }

    func matches(_ c: Candidate, now: Int64) -> Bool {
        Self.eval(key, c, now)
    }

    private static func eval(_ key: Key, _ c: Candidate, _ now: Int64) -> Bool {
        let m = c.message
        switch key {
        case .all: return true
        case .none: return false
        case .flag(let f, let set): return m.flags.system.contains(f) == set
        case .keyword(let k, let set): return m.flags.keywords.contains { $0.lowercased() == k } == set
        case .recent(let r): return m.recent == r
        case .new: return m.recent && !m.flags.system.contains(.seen)
        case .larger(let n): return UInt64(m.size) > n
        case .smaller(let n): return UInt64(m.size) < n
        case .uids(let set): return set.contains(m.uid)
        case .sequence(let set): return set.contains(UInt32(c.seq))
        case .modSeq(let n): return m.modSeq >= n
        case .older(let n): return m.internalDate.seconds <= now - Int64(n)
        case .younger(let n): return m.internalDate.seconds >= now - Int64(n)
        case .internalDate(let cmp, let d):
            // RFC 9051 §6.4.4: "disregarding time and timezone", i.e. the date as given.
            let date = IMAPDateTime(secondsSince1970: m.internalDate.seconds, zoneMinutes: m.internalDate.zoneMinutes).date
            return compare(date, cmp, d)
        case .sentDate(let cmp, let d):
            guard let field = c.content?.headerFields("date").first,
                  let (date, offset) = RFC5322Date.parseWithOffset(field.value) else { return false }
            let sent = IMAPDateTime(secondsSince1970: Int64(date.timeIntervalSince1970), zoneMinutes: offset / 60).date
            return compare(sent, cmp, d)
        case .header(let name, let needle):
            guard let fields = c.content?.headerFields(name) else { return false }
            if needle.isEmpty { return !fields.isEmpty }
            return fields.contains { field in
                if Self.has(EncodedWord.decode(field.value).lowercased(), needle) { return true }
                // RFC 9051 §6.4.4 matches "the specified string" in the field; for address
                // fields that string is an address, which the header may write with comments
                // and folding inside (RFC 5322 CFWS, `<user (c)@ (c) example.org>`): match the
                // parsed addresses and names too, as Dovecot does.
                guard Self.addressFields.contains(name) else { return false }
                return AddressListEntry.parseAddressList(field.value).allMailboxes.contains { m in
                    Self.has(m.addrSpec.lowercased(), needle) || Self.has(m.displayName?.lowercased() ?? "", needle)
                }
            }
        case .body(let needle):
            guard let content = c.content else { return false }
            return needle.isEmpty || Self.has(content.bodyText, needle)
        case .text(let needle):
            guard let content = c.content else { return false }
            return needle.isEmpty || Self.has(content.headerText, needle) || Self.has(content.bodyText, needle)
        case .not(let k): return !eval(k, c, now)
        case .or(let a, let b): return eval(a, c, now) || eval(b, c, now)
        case .and(let keys): return keys.allSatisfy { eval($0, c, now) }
        }
    }

    /// Substring match on UTF-8 bytes (both sides already lowercased). Not `String.contains`,
    /// which Foundation answers through NSString (profiled: most of SEARCH's own time).
    static func has(_ haystack: String, _ needle: String) -> Bool {
        needle.isEmpty || haystack.utf8.firstRange(of: needle.utf8) != nil
    }

    static let addressFields: Set<String> = ["from", "to", "cc", "bcc", "sender", "reply-to"]

    private static func compare(_ date: IMAPDate, _ cmp: Comparison, _ d: IMAPDate) -> Bool {
        switch cmp {
        case .before: return date < d
        case .on: return date == d
        case .since: return date >= d
        }
    }
}
