import IMAPProtocol
import MailAuth
import MailStore
import Testing
@testable import IMAPServer

/// Sequence numbers and the untagged updates a session owes its client (RFC 9051 §5.2, §7.4.1).
@Suite("Selected mailbox bookkeeping")
struct SelectedMailboxTests {
    static func summary(_ uid: UInt32, modSeq: UInt64 = 1, flags: MessageFlags = .none) -> MessageSummary {
        MessageSummary(uid: uid, modSeq: modSeq, flags: flags, internalDate: InternalDate(seconds: 0), size: 10)
    }

    func mailbox(_ uids: [UInt32], readOnly: Bool = false) -> SelectedMailbox {
        let info = MailboxInfo(id: MailboxID(1), user: UserID(1), name: "INBOX", uidValidity: 7, uidNext: (uids.last ?? 0) + 1,
                               highestModSeq: 1, specialUse: nil, subscribed: true, selectable: true,
                               messageCount: uids.count, unseenCount: 0, deletedCount: 0, totalSize: 0)
        return SelectedMailbox(info: info, messages: uids.map { Self.summary($0) }, readOnly: readOnly, recent: [])
    }

    func set(_ s: String) -> SequenceSet {
        SequenceSet(s.split(separator: ",").map { part in
            let ends = part.split(separator: ":").map { $0 == "*" ? SequenceNumber.last : .number(UInt32($0)!) }
            return .range(from: ends[0], to: ends.count > 1 ? ends[1] : ends[0])
        })
    }

    @Test func sequenceSetsResolveAgainstTheClientsView() throws {
        let box = mailbox([10, 20, 30, 40])
        #expect(try box.indices(sequence: set("2:*"), saved: nil) == [1, 2, 3])
        #expect(try box.indices(sequence: set("*:3"), saved: nil) == [2, 3])
        #expect(try box.indices(sequence: set("1,1,4"), saved: nil) == [0, 3])
        #expect(throws: SelectedMailbox.SequenceError.outOfRange(5)) { try box.indices(sequence: set("5"), saved: nil) }
        #expect(box.indices(uids: set("15:35"), saved: nil) == [1, 2])
        #expect(box.indices(uids: set("41:*"), saved: nil) == [3])  // "*" is the highest UID, so 40:41
        #expect(box.indices(uids: set("99"), saved: nil) == [])
        #expect(box.indices(uids: SequenceSet.savedResult, saved: [20, 99]) == [1])
        let empty = mailbox([])
        #expect(try empty.indices(sequence: set("1:*"), saved: nil) == [])
        #expect(throws: SelectedMailbox.SequenceError.self) { try empty.indices(sequence: set("1"), saved: nil) }
    }

    /// The audit: 16,384 copies of `1:*` (the parser's range limit) were expanded one by one,
    /// 16,384 × the mailbox's size set insertions. Merged first, the answer is one pass. The
    /// time is measured, not asserted (timed assertions do not belong in tests): see the note.
    @Test func repeatedRangesAreMergedBeforeExpansion() throws {
        let box = mailbox(Array(1...20_000))
        let many = SequenceSet(Array(repeating: .range(from: .number(1), to: .last), count: 16_384))
        #expect(try box.indices(sequence: many, saved: nil) == Array(0..<20_000))
        #expect(box.indices(uids: many, saved: nil).count == 20_000)
        let disjoint = SequenceSet((0..<16_384).reversed().map { .single(UInt32($0 % 20_000) + 1) })
        #expect(try box.indices(sequence: disjoint, saved: nil) == Array(0..<16_384))
    }

    @Test func expungesWaitUntilTheyMayBeSent() {
        var box = mailbox([10, 20, 30, 40])
        box.apply(changed: [], expunged: [20, 40], highestModSeq: 3, uidNext: 41) { _ in [] }
        // During FETCH/STORE/SEARCH by number: nothing, and numbers still mean what they meant.
        #expect(box.flush(allowExpunge: false, vanished: false, reportRecent: false) == [])
        #expect(box.count == 4)
        #expect(box.messages[1].expunged)
        // Then highest first, so each number is right when the client applies it.
        #expect(box.flush(allowExpunge: true, vanished: false, reportRecent: false) == [.expunge(seq: 4), .expunge(seq: 2)])
        #expect(box.messages.map(\.uid) == [10, 30])
        #expect(box.flush(allowExpunge: true, vanished: false, reportRecent: false) == [])
    }

    @Test func newMailAndFlagChangesAreReportedInOrder() {
        var box = mailbox([10, 20])
        let flagged = MessageFlags(system: .flagged)
        box.apply(changed: [Self.summary(20, modSeq: 5, flags: flagged), Self.summary(21, modSeq: 6)], expunged: [10],
                  highestModSeq: 6, uidNext: 22) { uids in Set(uids) }
        // Expunge not allowed: EXISTS counts the expunged message still.
        let during = box.flush(allowExpunge: false, vanished: false, reportRecent: true)
        #expect(during.count == 3)
        #expect(during[0] == .exists(3))
        #expect(during[1] == .recent(1))
        guard case .flags(let seq, let m) = during[2] else { Issue.record("no flag update"); return }
        #expect(seq == 2 && m.uid == 20 && m.flags == flagged && m.modSeq == 5)
        #expect(box.flush(allowExpunge: true, vanished: true, reportRecent: true) == [.vanished([10])])
        #expect(box.highestModSeq == 6 && box.uidNext == 22)
    }

    @Test func ownChangesAreNotEchoed() {
        var box = mailbox([10])
        box.recordOwnFlags([Self.summary(10, modSeq: 9, flags: MessageFlags(system: .seen))])
        // The store then reports the same change: flags equal, nothing to tell.
        box.apply(changed: [Self.summary(10, modSeq: 9, flags: MessageFlags(system: .seen))], expunged: [],
                  highestModSeq: 9, uidNext: 11) { _ in [] }
        #expect(box.flush(allowExpunge: true, vanished: false, reportRecent: false) == [])
        box.recordExpunged([10])
        #expect(box.flush(allowExpunge: true, vanished: false, reportRecent: false) == [.expunge(seq: 1)])
        // A late report of the same expunge changes nothing.
        box.apply(changed: [], expunged: [10], highestModSeq: 10, uidNext: 11) { _ in [] }
        #expect(box.flush(allowExpunge: true, vanished: false, reportRecent: false) == [])
    }

    @Test func recentGoesToOneSessionOnly() {
        let tracker = RecentTracker()
        let id = MailboxID(42)
        #expect(tracker.peek(id, uids: [1, 2]) == [1, 2])
        #expect(tracker.claim(id, uids: [1, 2]) == [1, 2])
        #expect(tracker.claim(id, uids: [1, 2]) == [])
        #expect(tracker.claim(id, uids: [2, 3]) == [3])
        #expect(tracker.peek(id, uids: [1, 2, 3]) == [])
        #expect(tracker.mark(id) == 3)
    }

    @Test func listPatterns() {
        #expect(ListPattern.matches(pattern: "*", name: "a/b/c"))
        #expect(ListPattern.matches(pattern: "%", name: "a"))
        #expect(!ListPattern.matches(pattern: "%", name: "a/b"))
        #expect(ListPattern.matches(pattern: "a/%", name: "a/b"))
        #expect(!ListPattern.matches(pattern: "a/%", name: "a/b/c"))
        #expect(ListPattern.matches(pattern: "a*c", name: "a/b/c"))
        #expect(ListPattern.matches(pattern: "inbox", name: "INBOX"))
        #expect(ListPattern.matches(pattern: "Inbox/%", name: "INBOX/Sub"))
        #expect(!ListPattern.matches(pattern: "sent", name: "Sent"))
        #expect(ListPattern.matches(pattern: "Bü*", name: "Bücher"))
        // Many wildcards stay cheap (no backtracking blow-up).
        #expect(!ListPattern.matches(pattern: String(repeating: "*a", count: 100) + "b", name: String(repeating: "a", count: 255)))
    }
}

/// The audit: FETCH and SEARCH read message contents in batches sized in messages only, so 64
/// large messages were held at once. Batches are bounded in bytes too.
@Suite("Content batches")
struct ContentBatchTests {
    @Test func batchesAreBoundedInMessagesAndBytes() {
        let small = Array(repeating: 4 * 1024, count: 1000)
        #expect(IMAPSession.batchEnd(from: 0, count: small.count) { small[$0] } == IMAPSession.contentBatch)
        let large = Array(repeating: 3 * 1024 * 1024, count: 100)
        let end = IMAPSession.batchEnd(from: 10, count: large.count) { large[$0] }
        #expect(end - 10 == 2, "two 3 MiB messages fit the 8 MiB budget, a third does not")
        let huge = [50 * 1024 * 1024, 10]
        #expect(IMAPSession.batchEnd(from: 0, count: huge.count) { huge[$0] } == 1, "a message larger than the budget goes alone")
    }
}
