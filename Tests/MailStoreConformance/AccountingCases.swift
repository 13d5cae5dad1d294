import MailAuth
import MailStore

enum AccountingCases {
    static let all: [ConformanceCase] = [
        ConformanceCase(name: "quota: usage tracks append and expunge; over quota is refused") { f in
            let a = try await f.account("alice@example.test", quota: 50)
            let r = try await f.store.append(a.id, to: "INBOX", message(String(repeating: "a", count: 30)))
            var usage = try await f.store.quotaUsage(a.id)
            try checkEqual(usage, QuotaUsage(bytes: 30, messages: 1, limitBytes: 50), "usage")
            try await checkThrows("over quota", { if case .overQuota(50, 30, 30) = $0 { true } else { false } }) {
                try await f.store.append(a.id, to: "INBOX", message(String(repeating: "b", count: 30)))
            }
            _ = try await f.store.setFlags(in: r.mailbox, uids: UIDSet([1...1]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
            _ = try await f.store.expunge(in: r.mailbox, uids: nil)
            usage = try await f.store.quotaUsage(a.id)
            try checkEqual(usage, QuotaUsage(bytes: 0, messages: 0, limitBytes: 50), "after expunge")
            _ = try await f.store.append(a.id, to: "INBOX", message(String(repeating: "b", count: 30)))
        },
        ConformanceCase(name: "quota: a message limit refuses the message after the last, in APPEND and COPY") { f in
            let a = try await f.account("alice@example.test", maxMessages: 2)
            _ = try await f.store.append(a.id, to: "INBOX", message("one\r\n"))
            let r = try await f.store.append(a.id, to: "INBOX", message("two\r\n"))
            try checkEqual(try await f.store.quotaUsage(a.id).limitMessages, 2, "limit")
            try check(try await f.store.quotaUsage(a.id).isFull, "full at the limit")
            try await checkThrows("third message", { if case .overQuota(2, 2, 1) = $0 { true } else { false } }) {
                try await f.store.append(a.id, to: "INBOX", message("three\r\n"))
            }
            try await checkThrows("copy", { if case .overQuota = $0 { true } else { false } }) {
                try await f.store.copy(from: r.mailbox, uids: UIDSet([1...2]), to: "Archive")
            }
            // Raising the limit takes effect at once.
            try await f.directory.setQuota(a.address, quotaBytes: nil, maxMessages: 3)
            _ = try await f.store.append(a.id, to: "INBOX", message("three\r\n"))
        },
        ConformanceCase(name: "quota: the warning is claimed once per crossing of the threshold") { f in
            let a = try await f.account("alice@example.test", quota: 100)
            try checkEqual(try await f.store.claimQuotaWarning(a.id, percent: 80), nil, "empty")
            let r = try await f.store.append(a.id, to: "INBOX", message(String(repeating: "a", count: 85)))
            let usage = try await f.store.claimQuotaWarning(a.id, percent: 80)
            try checkEqual(usage?.percentUsed, 85, "crossed")
            try checkEqual(try await f.store.claimQuotaWarning(a.id, percent: 80), nil, "already warned")
            _ = try await f.store.setFlags(in: r.mailbox, uids: UIDSet([1...1]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
            _ = try await f.store.expunge(in: r.mailbox, uids: nil)
            try checkEqual(try await f.store.claimQuotaWarning(a.id, percent: 80), nil, "below: re-armed, nothing to say")
            _ = try await f.store.append(a.id, to: "INBOX", message(String(repeating: "b", count: 90)))
            try checkEqual(try await f.store.claimQuotaWarning(a.id, percent: 80)?.percentUsed, 90, "crossed again")
            let unlimited = try await f.account("bob@example.test")
            _ = try await f.store.append(unlimited.id, to: "INBOX", message(String(repeating: "c", count: 90)))
            try checkEqual(try await f.store.claimQuotaWarning(unlimited.id, percent: 1), nil, "no limit, no warning")
        },
        ConformanceCase(name: "the change feed reports appends, flag changes and expunges for the right user") { f in
            let a = try await f.account("alice@example.test")
            let b = try await f.account("bob@example.test")
            let stream = f.store.changes.subscribe(user: a.id)
            _ = try await f.store.append(b.id, to: "INBOX", message("for bob\r\n"))
            let r = try await f.store.append(a.id, to: "INBOX", message("for alice\r\n"))
            _ = try await f.store.setFlags(in: r.mailbox, uids: UIDSet([1...1]), .add, MessageFlags(system: [.deleted]), unchangedSince: nil)
            _ = try await f.store.expunge(in: r.mailbox, uids: nil)
            var kinds: [StoreChange.Kind] = []
            for await change in stream {
                try check(change.user == a.id, "only alice's changes")
                if change.mailbox == r.mailbox { kinds.append(change.kind) }
                if kinds.count == 3 { break }
            }
            try checkEqual(kinds, [.messagesAdded, .flagsChanged, .messagesExpunged], "kinds")
        },
    ]
}
