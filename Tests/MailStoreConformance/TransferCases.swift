import MailAuth
import MailStore

enum TransferCases {
    static let all: [ConformanceCase] = [
        ConformanceCase(name: "copy keeps source, gives new UIDs, flags and bytes") { f in
            let a = try await f.account("alice@example.test")
            for i in 1...3 {
                _ = try await f.store.append(a.id, to: "INBOX", message("Subject: \(i)\r\n\r\n", flags: MessageFlags(system: .seen, keywords: ["k\(i)"])))
            }
            _ = try await f.store.append(a.id, to: "Archive", message("already\r\n"))
            let inbox = try await f.store.mailbox(a.id, named: "INBOX")
            let result = try await f.store.copy(from: inbox.id, uids: UIDSet([1...1, 3...3]), to: "Archive")
            let archive = try await f.store.mailbox(a.id, named: "Archive")
            try checkEqual(result.destination, archive.id, "destination")
            try checkEqual(result.uidValidity, archive.uidValidity, "uidvalidity")
            try checkEqual(result.uids.map(\.source), [1, 3], "sources")
            try checkEqual(result.uids.map(\.destination), [2, 3], "destinations")
            try checkEqual(try await f.store.messageBytes(in: archive.id, uid: 3), Array("Subject: 3\r\n\r\n".utf8), "bytes")
            try checkEqual(try await f.store.allMessages(in: archive.id).last?.flags, MessageFlags(system: .seen, keywords: ["k3"]), "flags")
            try checkEqual(try await f.store.mailbox(id: inbox.id).messageCount, 3, "source kept")
            try checkEqual(try await f.store.quotaUsage(a.id).messages, 6, "copies count toward usage")
            try await checkThrows("missing destination", { if case .notFound = $0 { true } else { false } }) {
                try await f.store.copy(from: inbox.id, uids: UIDSet([1...1]), to: "Nope")
            }
        },
        ConformanceCase(name: "move removes the source messages atomically") { f in
            let a = try await f.account("alice@example.test")
            for i in 1...3 { _ = try await f.store.append(a.id, to: "INBOX", message("\(i)\r\n")) }
            let inbox = try await f.store.mailbox(a.id, named: "INBOX")
            let result = try await f.store.move(from: inbox.id, uids: UIDSet([2...3]), to: "Trash")
            try checkEqual(result.uids.map(\.destination), [1, 2], "destination uids")
            try checkEqual(try await f.store.allMessages(in: inbox.id).map(\.uid), [1], "left in INBOX")
            try checkEqual(try await f.store.expungedUIDs(in: inbox.id, since: inbox.highestModSeq), [2, 3], "vanished")
            try checkEqual(try await f.store.messageBytes(in: result.destination, uid: 2), Array("3\r\n".utf8), "moved bytes")
            try checkEqual(try await f.store.quotaUsage(a.id).messages, 3, "usage unchanged by move")
            // The body shared by the copy stays until the last copy goes.
            _ = try await f.store.copy(from: result.destination, uids: UIDSet([1...1]), to: "INBOX")
            _ = try await f.store.setFlags(in: result.destination, uids: UIDSet([1...1]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
            _ = try await f.store.expunge(in: result.destination, uids: nil)
            try checkEqual(try await f.store.messageBytes(in: inbox.id, uid: 4), Array("2\r\n".utf8), "copy survives")
        },
    ]
}
