import MailAuth
import MailStore

enum FlagCases {
    static let all: [ConformanceCase] = [
        ConformanceCase(name: "flags: add, remove, replace, keywords case-insensitive") { f in
            let a = try await f.account("alice@example.test")
            let r = try await f.store.append(a.id, to: "INBOX", message("x\r\n", flags: MessageFlags(system: .draft, keywords: ["$Label1"])))
            let box = r.mailbox
            var u = try await f.store.setFlags(in: box, uids: UIDSet([1...1]), .add,
                                               MessageFlags(system: [.seen, .flagged], keywords: ["$label1", "Work"]), unchangedSince: nil)
            try checkEqual(u.updated.first?.flags, MessageFlags(system: [.draft, .seen, .flagged], keywords: ["$Label1", "Work"]), "after add")
            u = try await f.store.setFlags(in: box, uids: UIDSet([1...1]), .remove, MessageFlags(system: .draft, keywords: ["WORK"]), unchangedSince: nil)
            try checkEqual(u.updated.first?.flags, MessageFlags(system: [.seen, .flagged], keywords: ["$Label1"]), "after remove")
            u = try await f.store.setFlags(in: box, uids: UIDSet([1...1]), .replace, MessageFlags(system: .answered), unchangedSince: nil)
            try checkEqual(u.updated.first?.flags, MessageFlags(system: .answered), "after replace")
            let stored = try await f.store.allMessages(in: box)
            try checkEqual(stored.first?.flags, MessageFlags(system: .answered), "persisted")
        },
        ConformanceCase(name: "flag changes raise MODSEQ; no-op stores do not") { f in
            let a = try await f.account("alice@example.test")
            _ = try await f.store.append(a.id, to: "INBOX", message("1\r\n"))
            let r = try await f.store.append(a.id, to: "INBOX", message("2\r\n"))
            let before = try await f.store.mailbox(id: r.mailbox).highestModSeq
            let u = try await f.store.setFlags(in: r.mailbox, uids: UIDSet([1...2]), .add, MessageFlags(system: .seen), unchangedSince: nil)
            try checkEqual(u.updated.count, 2, "both changed")
            let after = try await f.store.mailbox(id: r.mailbox).highestModSeq
            try check(after > before, "highestmodseq grew")
            try check(u.updated.allSatisfy { $0.modSeq == after }, "messages carry the new modseq")
            let noop = try await f.store.setFlags(in: r.mailbox, uids: UIDSet([1...2]), .add, MessageFlags(system: .seen), unchangedSince: nil)
            try checkEqual(noop.updated.count, 0, "no-op")
            try checkEqual(try await f.store.mailbox(id: r.mailbox).highestModSeq, after, "no-op keeps modseq")
            let changed = try await f.store.messages(in: r.mailbox, changedSince: before)
            try checkEqual(changed.map(\.uid), [1, 2], "changedSince")
            try checkEqual(try await f.store.messages(in: r.mailbox, changedSince: after).count, 0, "nothing newer")
        },
        ConformanceCase(name: "UNCHANGEDSINCE leaves newer messages alone and reports them") { f in
            let a = try await f.account("alice@example.test")
            let r1 = try await f.store.append(a.id, to: "INBOX", message("1\r\n"))
            _ = try await f.store.append(a.id, to: "INBOX", message("2\r\n"))
            _ = try await f.store.setFlags(in: r1.mailbox, uids: UIDSet([2...2]), .add, MessageFlags(system: .flagged), unchangedSince: nil)
            let u = try await f.store.setFlags(in: r1.mailbox, uids: UIDSet([1...2]), .add, MessageFlags(system: .seen), unchangedSince: r1.modSeq)
            try checkEqual(u.updated.map(\.uid), [1], "updated")
            try checkEqual(u.modified, [2], "modified")
        },
        ConformanceCase(name: "expunge removes only \\Deleted messages and records them for QRESYNC") { f in
            let a = try await f.account("alice@example.test")
            for i in 1...4 { _ = try await f.store.append(a.id, to: "INBOX", message("\(i)\r\n")) }
            let box = try await f.store.mailbox(a.id, named: "INBOX")
            _ = try await f.store.setFlags(in: box.id, uids: UIDSet([2...3]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
            let mark = try await f.store.mailbox(id: box.id).highestModSeq
            try checkEqual(try await f.store.expunge(in: box.id, uids: UIDSet([3...4])), [3], "UID EXPUNGE limited to the set")
            try checkEqual(try await f.store.expunge(in: box.id, uids: nil), [2], "EXPUNGE")
            try checkEqual(try await f.store.allMessages(in: box.id).map(\.uid), [1, 4], "remaining")
            try checkEqual(try await f.store.expungedUIDs(in: box.id, since: mark), [2, 3], "vanished since")
            try checkEqual(try await f.store.expungedUIDs(in: box.id, since: try await f.store.mailbox(id: box.id).highestModSeq), [], "none newer")
            try await checkThrows("bytes of an expunged message", { $0 == .expunged }) {
                try await f.store.messageBytes(in: box.id, uid: 2)
            }
            try checkEqual(try await f.store.mailbox(id: box.id).uidNext, 5, "UIDs are never reused")
        },
        ConformanceCase(name: "sync reads a mailbox's changes, expunges and numbers in one snapshot") { f in
            let a = try await f.account("alice@example.test")
            for i in 1...3 { _ = try await f.store.append(a.id, to: "INBOX", message("\(i)\r\n")) }
            let box = try await f.store.mailbox(a.id, named: "INBOX")
            let quiet = try await f.store.sync(box.id, since: box.highestModSeq)
            try checkEqual(quiet.changed.count + quiet.expunged.count, 0, "nothing after the current MODSEQ")
            try checkEqual(quiet.uidNext, 4, "uidnext")
            try checkEqual(quiet.uidValidity, box.uidValidity, "uidvalidity")
            _ = try await f.store.setFlags(in: box.id, uids: UIDSet([1...1]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
            _ = try await f.store.setFlags(in: box.id, uids: UIDSet([2...2]), .add, MessageFlags(system: .seen), unchangedSince: nil)
            _ = try await f.store.expunge(in: box.id, uids: nil)
            _ = try await f.store.append(a.id, to: "INBOX", message("4\r\n"))
            let s = try await f.store.sync(box.id, since: box.highestModSeq)
            try checkEqual(s.changed.map(\.uid), [2, 4], "changed and new")
            try check(s.changed[0].flags.system.contains(.seen), "new flags")
            try checkEqual(s.expunged, [1], "expunged")
            try checkEqual(s.uidNext, 5, "uidnext after the append")
            try checkEqual(s.highestModSeq, try await f.store.mailbox(id: box.id).highestModSeq, "highest modseq")
            try await checkThrows("a mailbox that is gone", { if case .notFound = $0 { true } else { false } }) {
                try await f.store.sync(MailboxID(Int64.max), since: 0)
            }
        },
    ]
}
