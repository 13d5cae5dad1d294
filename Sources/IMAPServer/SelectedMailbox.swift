import IMAPProtocol
import MailStore

/// The selected mailbox as this session's client knows it (RFC 9051 §2.3.1.2, §5.2, §7.4):
/// which message has which sequence number, its flags and MODSEQ, and what changed since the
/// client was last told.
///
/// A value type driven by events (DESIGN.md §5.4): `apply` takes what the store says changed,
/// `flush` says which untagged responses may be sent now. Messages expunged by another session
/// keep their sequence numbers until `flush(allowExpunge: true)` reports them, so numbers never
/// shift under a client that has not been told (RFC 9051 §7.4.1: no EXPUNGE during FETCH, STORE
/// or SEARCH by sequence number).
struct SelectedMailbox: Sendable {
    struct Message: Sendable, Hashable {
        var uid: UInt32
        var flags: MessageFlags
        var modSeq: UInt64
        var internalDate: InternalDate
        var size: Int
        /// This session holds \Recent for the message (RFC 3501 §2.3.2).
        var recent: Bool
        /// Gone from the store; still numbered until the client is told.
        var expunged: Bool
    }

    /// An untagged response the session owes its client.
    enum Update: Sendable, Hashable {
        case expunge(seq: Int)
        /// QRESYNC (RFC 7162 §3.2.10): expunges as UIDs.
        case vanished([UInt32])
        case exists(Int)
        case recent(Int)
        /// Flags changed by someone else.
        case flags(seq: Int, Message)
    }

    enum SequenceError: Error, Equatable {
        case outOfRange(UInt32)
    }

    let id: MailboxID
    let name: String
    let readOnly: Bool
    let uidValidity: UInt32
    private(set) var messages: [Message]
    private(set) var uidNext: UInt32
    /// Every change up to this MODSEQ is reflected in `messages` (RFC 7162 HIGHESTMODSEQ).
    private(set) var highestModSeq: UInt64
    /// The message count the client believes in.
    private var announcedCount: Int
    private var announcedRecent: Int
    /// UIDs whose flags others changed since the last flush.
    private var flagChanges: Set<UInt32> = []

    init(info: MailboxInfo, messages summaries: [MessageSummary], readOnly: Bool, recent: Set<UInt32>) {
        id = info.id
        name = info.name
        self.readOnly = readOnly
        uidValidity = info.uidValidity
        messages = summaries.map {
            Message(uid: $0.uid, flags: $0.flags, modSeq: $0.modSeq, internalDate: $0.internalDate, size: $0.size,
                    recent: recent.contains($0.uid), expunged: false)
        }
        uidNext = max(info.uidNext, (summaries.last?.uid ?? 0) &+ 1)
        highestModSeq = max(info.highestModSeq, summaries.map(\.modSeq).max() ?? 0)
        announcedCount = messages.count
        announcedRecent = recent.count
    }

    var count: Int { messages.count }
    var recentCount: Int { messages.reduce(0) { $0 + ($1.recent ? 1 : 0) } }
    var lastUID: UInt32 { messages.last?.uid ?? 0 }

    /// Index of a UID (binary search; UIDs ascend with sequence numbers).
    func index(ofUID uid: UInt32) -> Int? {
        var lo = 0, hi = messages.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let u = messages[mid].uid
            if u == uid { return mid }
            if u < uid { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    // MARK: Resolving sets

    /// Indices named by a message sequence set, ascending and unique. `*` is the highest
    /// sequence number; for an empty mailbox a set with `*` names nothing. A number beyond the
    /// count is an error (RFC 3501 §9: "tagged BAD"). `$` names the saved search result.
    func indices(sequence set: SequenceSet, saved: [UInt32]?) throws(SequenceError) -> [Int] {
        var ranges: [ClosedRange<UInt32>] = []
        for element in set.elements {
            switch element {
            case .savedResult:
                for uid in saved ?? [] {
                    if let i = index(ofUID: uid) { ranges.append(UInt32(i + 1)...UInt32(i + 1)) }
                }
            case .range(let a, let b):
                if messages.isEmpty {
                    // "1:*" on an empty mailbox is common and harmless: it names nothing.
                    if case .number(let n) = a, case .number = b { throw .outOfRange(n) }
                    continue
                }
                let r = SequenceSet([element]).resolved(largest: UInt32(messages.count))[0]
                guard r.upperBound <= UInt32(messages.count) else { throw .outOfRange(r.upperBound) }
                guard r.lowerBound >= 1 else { throw .outOfRange(0) }
                ranges.append(r)
            }
        }
        // Merged before they are expanded: a set may name each message many times (16,384
        // copies of `1:*` is a valid command), and the work must not multiply with it.
        return UIDSet(ranges).map { Int($0) - 1 }
    }

    /// Indices of the messages whose UIDs are in `set` (UIDs without a message are ignored,
    /// RFC 9051 §6.4.9). `*` is the highest UID in the mailbox.
    func indices(uids set: SequenceSet, saved: [UInt32]?) -> [Int] {
        var ranges: [ClosedRange<UInt32>] = []
        for element in set.elements {
            switch element {
            case .savedResult:
                for uid in saved ?? [] { ranges.append(uid...uid) }
            case .range:
                ranges += SequenceSet([element]).resolved(largest: lastUID)
            }
        }
        guard !ranges.isEmpty, !messages.isEmpty else { return [] }
        let uidSet = UIDSet(ranges)
        // Walk whichever is smaller: the ranges (by binary search) or the messages.
        var result: [Int] = []
        for r in uidSet.ranges {
            var i = lowerBoundIndex(r.lowerBound)
            while i < messages.count, messages[i].uid <= r.upperBound {
                result.append(i)
                i += 1
            }
        }
        return result
    }

    private func lowerBoundIndex(_ uid: UInt32) -> Int {
        var lo = 0, hi = messages.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if messages[mid].uid < uid { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    // MARK: Events

    /// What the store reported since `highestModSeq`: messages whose MODSEQ is higher (new or
    /// with changed flags) and UIDs expunged meanwhile. `claimRecent` decides which new UIDs
    /// this session gets \Recent for.
    mutating func apply(changed: [MessageSummary], expunged: [UInt32], highestModSeq newModSeq: UInt64,
                        uidNext newUIDNext: UInt32, claimRecent: ([UInt32]) -> Set<UInt32>) {
        for uid in expunged {
            if let i = index(ofUID: uid) { messages[i].expunged = true }
        }
        var added: [MessageSummary] = []
        for s in changed {
            if let i = index(ofUID: s.uid) {
                guard !messages[i].expunged else { continue }
                if messages[i].flags != s.flags {
                    messages[i].flags = s.flags
                    flagChanges.insert(s.uid)
                }
                messages[i].modSeq = max(messages[i].modSeq, s.modSeq)
            } else if s.uid > (added.last?.uid ?? lastUID) {
                added.append(s)
            }
        }
        if !added.isEmpty {
            let recent = claimRecent(added.map(\.uid))
            for s in added {
                messages.append(Message(uid: s.uid, flags: s.flags, modSeq: s.modSeq, internalDate: s.internalDate,
                                        size: s.size, recent: recent.contains(s.uid), expunged: false))
            }
        }
        highestModSeq = max(highestModSeq, newModSeq)
        uidNext = max(uidNext, newUIDNext, lastUID &+ 1)
    }

    /// This session's own STORE (or FETCH setting \Seen): the client learns the flags from the
    /// command's own FETCH responses, so no unsolicited update is queued.
    mutating func recordOwnFlags(_ summaries: [MessageSummary]) {
        for s in summaries {
            guard let i = index(ofUID: s.uid) else { continue }
            messages[i].flags = s.flags
            messages[i].modSeq = max(messages[i].modSeq, s.modSeq)
            flagChanges.remove(s.uid)
        }
    }

    /// This session's own EXPUNGE / MOVE: reported by the next `flush(allowExpunge: true)`.
    mutating func recordExpunged(_ uids: [UInt32]) {
        for uid in uids {
            if let i = index(ofUID: uid) { messages[i].expunged = true }
        }
    }

    /// The untagged responses to send now, in the order RFC 9051 §7.4 / §5.2 requires:
    /// expunges (only when allowed), then EXISTS and RECENT, then flag changes.
    mutating func flush(allowExpunge: Bool, vanished: Bool, reportRecent: Bool) -> [Update] {
        var updates: [Update] = []
        if allowExpunge, messages.contains(where: \.expunged) {
            if vanished {
                let gone = messages.filter(\.expunged).map(\.uid)
                updates.append(.vanished(gone))
                messages.removeAll(where: \.expunged)
                announcedCount -= gone.count
            } else {
                // Highest first: earlier numbers do not shift as later ones are removed.
                for i in stride(from: messages.count - 1, through: 0, by: -1) where messages[i].expunged {
                    updates.append(.expunge(seq: i + 1))
                    messages.remove(at: i)
                    announcedCount -= 1
                }
            }
        }
        if messages.count != announcedCount {
            updates.append(.exists(messages.count))
            announcedCount = messages.count
            if reportRecent {
                updates.append(.recent(recentCount))
                announcedRecent = recentCount
            }
        } else if reportRecent, recentCount != announcedRecent {
            updates.append(.recent(recentCount))
            announcedRecent = recentCount
        }
        if !flagChanges.isEmpty {
            for uid in flagChanges.sorted() {
                guard let i = index(ofUID: uid), !messages[i].expunged else { continue }
                updates.append(.flags(seq: i + 1, messages[i]))
            }
            flagChanges.removeAll()
        }
        return updates
    }
}
