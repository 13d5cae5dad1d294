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
