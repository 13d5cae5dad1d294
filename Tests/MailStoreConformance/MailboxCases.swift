import MailAuth
import MailStore

enum MailboxCases {
    static let all: [ConformanceCase] = [
        ConformanceCase(name: "prepareAccount creates INBOX and special-use mailboxes, idempotently") { f in
            let a = try await f.account("alice@example.test")
            try await f.store.prepareAccount(a.id)
            let boxes = try await f.store.listMailboxes(a.id)
            try checkEqual(boxes.map(\.name).sorted(), ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], "names")
            try checkEqual(boxes.first { $0.name == "Sent" }?.specialUse, .sent, "Sent special use")
            try check(boxes.allSatisfy { $0.subscribed && $0.selectable && $0.uidNext == 1 && $0.messageCount == 0 }, "fresh state")
        },
        ConformanceCase(name: "INBOX is case-insensitive") { f in
            let a = try await f.account("alice@example.test")
            let inbox = try await f.store.mailbox(a.id, named: "inbox")
            try checkEqual(inbox.name, "INBOX", "name")
            _ = try await f.store.append(a.id, to: "InBoX", message("Subject: x\r\n\r\nbody\r\n"))
            try checkEqual(try await f.store.mailbox(a.id, named: "INBOX").messageCount, 1, "count")
        },
        ConformanceCase(name: "create makes parents, refuses duplicates and invalid names") { f in
            let a = try await f.account("alice@example.test")
            try await f.store.createMailbox(a.id, named: "Work/Projects/Swallow", specialUse: nil)
            let names = Set(try await f.store.listMailboxes(a.id).map(\.name))
            try check(names.isSuperset(of: ["Work", "Work/Projects", "Work/Projects/Swallow"]), "parents created: \(names)")
            try await checkThrows("duplicate", { if case .exists = $0 { true } else { false } }) {
                try await f.store.createMailbox(a.id, named: "Work", specialUse: nil)
            }
            for bad in ["", "a//b", "/a", "a/", "a*b", "a%b", "a\u{1}b", String(repeating: "x", count: 300)] {
                try await checkThrows("invalid '\(bad)'", { if case .invalidName = $0 { true } else { false } }) {
                    try await f.store.createMailbox(a.id, named: bad, specialUse: nil)
                }
            }
            try await f.store.createMailbox(a.id, named: "Ünïcödé/日本語", specialUse: nil)
            try checkEqual(try await f.store.mailbox(a.id, named: "Ünïcödé/日本語").name, "Ünïcödé/日本語", "UTF-8 name")
        },
        ConformanceCase(name: "a recreated mailbox gets a new UIDVALIDITY") { f in
            let a = try await f.account("alice@example.test")
            let first = try await f.store.createMailbox(a.id, named: "Tmp", specialUse: nil)
            try await f.store.deleteMailbox(a.id, named: "Tmp")
            let second = try await f.store.createMailbox(a.id, named: "Tmp", specialUse: nil)
            try check(first.uidValidity != second.uidValidity, "uidvalidity reused: \(first.uidValidity)")
            try check(first.id != second.id, "mailbox id reused")
        },
        ConformanceCase(name: "delete: INBOX refused, unknown not found, parent becomes \\Noselect") { f in
            let a = try await f.account("alice@example.test")
            try await checkThrows("INBOX", { if case .notPermitted = $0 { true } else { false } }) {
                try await f.store.deleteMailbox(a.id, named: "INBOX")
            }
            try await checkThrows("unknown", { if case .notFound = $0 { true } else { false } }) {
                try await f.store.deleteMailbox(a.id, named: "Nope")
            }
            try await f.store.createMailbox(a.id, named: "P/C", specialUse: nil)
            _ = try await f.store.append(a.id, to: "P", message("Subject: p\r\n\r\n"))
            try await f.store.deleteMailbox(a.id, named: "P")
            let parent = try await f.store.mailbox(a.id, named: "P")
            try check(!parent.selectable && parent.messageCount == 0, "P is \\Noselect and empty")
            try await checkThrows("append to \\Noselect", { if case .notPermitted = $0 { true } else { false } }) {
                try await f.store.append(a.id, to: "P", message("x\r\n"))
            }
            try await checkThrows("delete \\Noselect with children", { if case .notPermitted = $0 { true } else { false } }) {
                try await f.store.deleteMailbox(a.id, named: "P")
            }
            let revived = try await f.store.createMailbox(a.id, named: "P", specialUse: nil)
            try check(revived.selectable && revived.uidValidity != parent.uidValidity, "P selectable again with new UIDVALIDITY")
        },
        ConformanceCase(name: "rename moves children; renaming INBOX moves its messages") { f in
            let a = try await f.account("alice@example.test")
            try await f.store.createMailbox(a.id, named: "A/B", specialUse: nil)
            try await f.store.setSubscribed(a.id, named: "A/B", true)
            _ = try await f.store.append(a.id, to: "A/B", message("Subject: b\r\n\r\n"))
            try await f.store.renameMailbox(a.id, from: "A", to: "Z/A")
            let names = Set(try await f.store.listMailboxes(a.id).map(\.name))
            try check(names.contains("Z/A/B") && names.contains("Z") && !names.contains("A") && !names.contains("A/B"), "names \(names)")
            try checkEqual(try await f.store.mailbox(a.id, named: "Z/A/B").messageCount, 1, "messages kept")
            try check(try await f.store.listSubscriptions(a.id).contains("Z/A/B"), "subscription moved")
            try await checkThrows("into itself", { if case .invalidName = $0 { true } else { false } }) {
                try await f.store.renameMailbox(a.id, from: "Z", to: "Z/A/B/Z")
            }
            try await checkThrows("onto existing", { if case .exists = $0 { true } else { false } }) {
                try await f.store.renameMailbox(a.id, from: "Z/A", to: "Sent")
            }
            _ = try await f.store.append(a.id, to: "INBOX", message("Subject: 1\r\n\r\n"))
            _ = try await f.store.append(a.id, to: "INBOX", message("Subject: 2\r\n\r\n"))
            try await f.store.renameMailbox(a.id, from: "INBOX", to: "Old")
            try checkEqual(try await f.store.mailbox(a.id, named: "INBOX").messageCount, 0, "INBOX empty")
            let old = try await f.store.mailbox(a.id, named: "Old")
            try checkEqual(old.messageCount, 2, "Old has INBOX's messages")
            let bytes = try await f.store.messageBytes(in: old.id, uid: 1)
            try checkEqual(bytes, Array("Subject: 1\r\n\r\n".utf8), "first message moved")
        },
        ConformanceCase(name: "subscriptions are names, independent of existence") { f in
            let a = try await f.account("alice@example.test")
            try await f.store.setSubscribed(a.id, named: "Ghost", true)
            try check(try await f.store.listSubscriptions(a.id).contains("Ghost"), "subscribed to a nonexistent name")
            try await f.store.setSubscribed(a.id, named: "Ghost", false)
            try check(!(try await f.store.listSubscriptions(a.id).contains("Ghost")), "unsubscribed")
            try await checkThrows("unsubscribe unknown", { if case .notFound = $0 { true } else { false } }) {
                try await f.store.setSubscribed(a.id, named: "Ghost", false)
            }
        },
        ConformanceCase(name: "accounts do not see each other's mailboxes") { f in
            let a = try await f.account("alice@example.test")
            let b = try await f.account("bob@example.test")
            try await f.store.createMailbox(a.id, named: "Private", specialUse: nil)
            try await checkThrows("other user's mailbox", { if case .notFound = $0 { true } else { false } }) {
                try await f.store.mailbox(b.id, named: "Private")
            }
            try check(!(try await f.store.listMailboxes(b.id).map(\.name).contains("Private")), "not listed for bob")
        },
    ]
}
