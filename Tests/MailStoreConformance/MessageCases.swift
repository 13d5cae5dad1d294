import MailAuth
import MailStore

enum MessageCases {
    static let all: [ConformanceCase] = [
        ConformanceCase(name: "append assigns ascending UIDs and keeps bytes exactly") { f in
            let a = try await f.account("alice@example.test")
            // 8-bit, a lone CR, a NUL, no trailing newline: stored byte for byte.
            let odd: [UInt8] = Array("Subject: caf\u{e9}\r\n\r\nline\rmore".utf8) + [0, 0xFF, 0x80]
            let r1 = try await f.store.append(a.id, to: "INBOX", NewMessage(bytes: odd, internalDate: InternalDate(seconds: 5, zoneMinutes: -300)))
            let r2 = try await f.store.append(a.id, to: "INBOX", message("Subject: two\r\n\r\n"))
            try checkEqual([r1.uid, r2.uid], [1, 2], "uids")
            try check(r2.modSeq > r1.modSeq, "modseq grows")
            let box = try await f.store.mailbox(a.id, named: "INBOX")
            try checkEqual(box.uidNext, 3, "uidnext")
            try checkEqual(box.uidValidity, r1.uidValidity, "uidvalidity reported by append")
            try checkEqual(box.totalSize, Int64(odd.count + "Subject: two\r\n\r\n".utf8.count), "size")
            try checkEqual(try await f.store.messageBytes(in: box.id, uid: 1), odd, "bytes")
            let summaries = try await f.store.allMessages(in: box.id)
            try checkEqual(summaries.map(\.uid), [1, 2], "summaries")
            try checkEqual(summaries[0].internalDate, InternalDate(seconds: 5, zoneMinutes: -300), "internal date with zone")
            try checkEqual(summaries[0].size, odd.count, "size")
        },
        ConformanceCase(name: "a 20 MiB message round-trips") { f in
            let a = try await f.account("alice@example.test")
            var big = Array("Subject: big\r\n\r\n".utf8)
            big += (0..<(20 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let r = try await f.store.append(a.id, to: "INBOX", NewMessage(bytes: big, internalDate: InternalDate(seconds: 0)))
            try check(try await f.store.messageBytes(in: r.mailbox, uid: r.uid) == big, "bytes differ")
        },
        ConformanceCase(name: "append to a missing mailbox is notFound") { f in
            let a = try await f.account("alice@example.test")
            try await checkThrows("missing", { if case .notFound = $0 { true } else { false } }) {
                try await f.store.append(a.id, to: "Nope", message("x\r\n"))
            }
        },
        ConformanceCase(name: "UID ranges select the right messages") { f in
            let a = try await f.account("alice@example.test")
            for i in 1...10 { _ = try await f.store.append(a.id, to: "INBOX", message("Subject: \(i)\r\n\r\n")) }
            let box = try await f.store.mailbox(a.id, named: "INBOX")
            let picked = try await f.store.messages(in: box.id, uids: UIDSet([2...3, 7...7, 9...UInt32.max]))
            try checkEqual(picked.map(\.uid), [2, 3, 7, 9, 10], "uids")
            try checkEqual(try await f.store.messages(in: box.id, uids: UIDSet([11...20])).count, 0, "past the end")
            // More ranges than one SQL statement takes.
            let many = UIDSet((1...2000).map { UInt32($0 * 2) })
            try checkEqual(try await f.store.messages(in: box.id, uids: many).map(\.uid), [2, 4, 6, 8, 10], "many ranges")
        },
        ConformanceCase(name: "several messages' bytes in one read; expunged ones absent") { f in
            let a = try await f.account("alice@example.test")
            for i in 1...5 { _ = try await f.store.append(a.id, to: "INBOX", message("Subject: \(i)\r\n\r\n")) }
            let box = try await f.store.mailbox(a.id, named: "INBOX")
            _ = try await f.store.setFlags(in: box.id, uids: UIDSet([2...2]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
            _ = try await f.store.expunge(in: box.id, uids: nil)
            let bytes = try await f.store.messageBytes(in: box.id, uids: UIDSet([1...3, 5...9]))
            try checkEqual(bytes.keys.sorted(), [1, 3, 5], "uids")
            try checkEqual(bytes[3], Array("Subject: 3\r\n\r\n".utf8), "bytes")
        },
        ConformanceCase(name: "concurrent appends get unique consecutive UIDs") { f in
            let a = try await f.account("alice@example.test")
            let store = f.store
            let uids = try await withThrowingTaskGroup(of: UInt32.self) { group in
                for i in 0..<40 {
                    group.addTask { try await store.append(a.id, to: "INBOX", message("Subject: \(i)\r\n\r\n")).uid }
                }
                return try await group.reduce(into: [UInt32]()) { $0.append($1) }
            }
            try checkEqual(uids.sorted(), Array(1...40), "uids")
        },
        ConformanceCase(name: "delivery batches: one failure does not fail the others") { f in
            let a = try await f.account("alice@example.test")
            let b = try await f.account("bob@example.test", quota: 10)
            let results = try await f.store.deliver([
                Delivery(user: a.id, message: message("Subject: for alice\r\n\r\n")),
                Delivery(user: b.id, message: message("Subject: too big for bob's quota\r\n\r\n")),
                Delivery(user: a.id, mailbox: "Missing", message: message("x\r\n")),
                Delivery(user: a.id, message: message("Subject: again\r\n\r\n")),
            ])
            guard case .success(let first) = results[0], case .failure(.overQuota) = results[1],
                  case .failure(.notFound) = results[2], case .success(let last) = results[3] else {
                throw ConformanceFailure("results \(results)")
            }
            try checkEqual([first.uid, last.uid], [1, 2], "alice's uids")
            try checkEqual(try await f.store.mailbox(b.id, named: "INBOX").messageCount, 0, "bob has nothing")
        },
        ConformanceCase(name: "appendAll is all or nothing") { f in
            let a = try await f.account("alice@example.test", quota: 100)
            let ok = try await f.store.appendAll(a.id, to: "INBOX", [message("Subject: 1\r\n\r\n"), message("Subject: 2\r\n\r\n")])
            try checkEqual(ok.map(\.uid), [1, 2], "uids")
            try await checkThrows("over quota midway", { if case .overQuota = $0 { true } else { false } }) {
                try await f.store.appendAll(a.id, to: "INBOX", [message("Subject: 3\r\n\r\n"),
                                                               message("Subject: " + String(repeating: "x", count: 100))])
            }
            try checkEqual(try await f.store.mailbox(a.id, named: "INBOX").messageCount, 2, "nothing added")
            try checkEqual(try await f.store.quotaUsage(a.id).messages, 2, "usage unchanged")
        },
        ConformanceCase(name: "messageHeaders returns each header section through its blank line") { f in
            let a = try await f.account("alice@example.test")
            let texts = ["Subject: one\r\nFrom: a@example.test\r\n\r\nbody\r\n\r\nmore\r\n",
                         "Subject: no body\r\n",
                         "Subject: bare LF\n\nbody\n"]
            for t in texts { _ = try await f.store.append(a.id, to: "INBOX", message(t)) }
            let box = try await f.store.mailbox(a.id, named: "INBOX")
            let headers = try await f.store.messageHeaders(in: box.id, uids: UIDSet([1...4]))
            try checkEqual(headers.count, 3, "one entry per existing message")
            try checkEqual(headers[1], Array("Subject: one\r\nFrom: a@example.test\r\n\r\n".utf8), "cut after the blank line")
            try checkEqual(headers[2], Array(texts[1].utf8), "no blank line: all of it")
            try checkEqual(headers[3], Array(texts[2].utf8), "no CRLF CRLF: all of it")
        },
    ]
}
