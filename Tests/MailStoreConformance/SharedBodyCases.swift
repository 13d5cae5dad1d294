import MailAuth
import MailStore

/// Local delivery to many accounts: the copies share one stored body, each with its own prefix.
enum SharedBodyCases {
    static func trace(_ address: String) -> [UInt8] {
        Array("Return-Path: <sender@outside.test>\r\nDelivered-To: \(address)\r\n".utf8)
    }

    static let all: [ConformanceCase] = [
        ConformanceCase(name: "copies of one delivery share one body, each with its own prefix") { f in
            let a = try await f.account("alice@example.test", quota: 1000)
            let b = try await f.account("bob@example.test")
            let bodyBytes = Array("Subject: shared\r\n\r\nline\rmore".utf8) + [0, 0xFF, 0x80]
            let body = MessageBody(bodyBytes)
            let before = try await f.storedBodyCount?()
            let results = try await f.store.deliver([
                // A copy that fails (over quota) fails alone, and first: the others still share one body.
                Delivery(user: a.id, message: NewMessage(prefix: Array(repeating: UInt8(ascii: "x"), count: 1000), body: body,
                                                         internalDate: InternalDate(seconds: 7))),
            ] + [a, b].map { account in
                Delivery(user: account.id, message: NewMessage(prefix: trace(account.address), body: body,
                                                               internalDate: InternalDate(seconds: 7)))
            })
            guard case .failure(.overQuota) = results[0], case .success(let ra) = results[1], case .success(let rb) = results[2] else {
                throw ConformanceFailure("results \(results)")
            }
            if let count = f.storedBodyCount, let before {
                try checkEqual(try await count() - before, 1, "body rows written")
            }
            for (account, result) in [(a, ra), (b, rb)] {
                let expected = trace(account.address) + bodyBytes
                try checkEqual(try await f.store.messageBytes(in: result.mailbox, uid: result.uid), expected, "\(account.address) bytes")
                try checkEqual(try await f.store.messageBytes(in: result.mailbox, uids: UIDSet([1...1]))[1], expected, "batch read")
                try checkEqual(try await f.store.allMessages(in: result.mailbox).map(\.size), [expected.count], "size")
                try checkEqual(try await f.store.mailbox(id: result.mailbox).totalSize, Int64(expected.count), "mailbox size")
                try checkEqual(try await f.store.quotaUsage(account.id).bytes, Int64(expected.count), "usage")
            }
            // A copy keeps the prefix; the body outlives any one copy.
            let copied = try await f.store.copy(from: ra.mailbox, uids: UIDSet([1...1]), to: "Archive")
            _ = try await f.store.setFlags(in: ra.mailbox, uids: UIDSet([1...1]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
            _ = try await f.store.expunge(in: ra.mailbox, uids: nil)
            try checkEqual(try await f.store.messageBytes(in: copied.destination, uid: 1), trace(a.address) + bodyBytes, "copy")
            try checkEqual(try await f.store.messageBytes(in: rb.mailbox, uid: rb.uid), trace(b.address) + bodyBytes, "bob's copy")
            if let count = f.storedBodyCount, let before {
                try checkEqual(try await count() - before, 1, "body rows while copies remain")
            }
        },
        ConformanceCase(name: "an empty body, with or without a prefix, round-trips") { f in
            let a = try await f.account("alice@example.test")
            let empty = try await f.store.append(a.id, to: "INBOX", NewMessage(bytes: [], internalDate: InternalDate(seconds: 7)))
            let prefixed = try await f.store.append(a.id, to: "INBOX", NewMessage(prefix: trace(a.address), body: MessageBody([]),
                                                                                   internalDate: InternalDate(seconds: 7)))
            try checkEqual(try await f.store.messageBytes(in: empty.mailbox, uid: empty.uid), [], "empty")
            try checkEqual(try await f.store.messageBytes(in: prefixed.mailbox, uid: prefixed.uid), trace(a.address), "prefix only")
            try checkEqual(try await f.store.allMessages(in: empty.mailbox).map(\.size), [0, trace(a.address).count], "sizes")
        },
        ConformanceCase(name: "separate deliveries of equal bytes keep separate bodies") { f in
            let a = try await f.account("alice@example.test")
            let bytes = Array("Subject: same\r\n\r\n".utf8)
            let before = try await f.storedBodyCount?()
            for _ in 0..<2 {
                _ = try await f.store.deliver([Delivery(user: a.id, message: NewMessage(prefix: trace(a.address), body: MessageBody(bytes),
                                                                                        internalDate: InternalDate(seconds: 7)))])
            }
            let box = try await f.store.mailbox(a.id, named: "INBOX")
            _ = try await f.store.setFlags(in: box.id, uids: UIDSet([1...1]), .add, MessageFlags(system: .deleted), unchangedSince: nil)
            _ = try await f.store.expunge(in: box.id, uids: nil)
            try checkEqual(try await f.store.messageBytes(in: box.id, uid: 2), trace(a.address) + bytes, "the other one stays")
            if let count = f.storedBodyCount, let before {
                try checkEqual(try await count() - before, 1, "body rows after one is expunged")
            }
        },
    ]
}
