import MailAuth
import MailCore
import MailStore

/// The store's half of `AcceptanceLedger`: what a delivery of an acceptance records.
enum AcceptanceCases {
    static let all: [ConformanceCase] = [
        ConformanceCase(name: "deliver records the accounts it stored and the carried targets, nothing for failures") { f in
            let a = try await f.account("alice@example.test")
            let b = try await f.account("bob@example.test", quota: 10)
            let print1 = [UInt8](repeating: 1, count: 32), print2 = [UInt8](repeating: 2, count: 32)
            let mark = AcceptanceMark(fingerprint: print1, attempt: "0000000000000002", carried: [.queue])
            let results = try await f.store.deliver([a, b].map {
                Delivery(user: $0.id, message: message("Subject: marked\r\n\r\n"), acceptance: mark)
            })
            guard case .success = results[0], case .failure(.overQuota) = results[1] else { throw ConformanceFailure("results \(results)") }
            let entries = try await f.store.acceptanceEntries(fingerprint: print1)
            try checkEqual(Set(entries), [AcceptanceEntry(target: .account(a.id.rawValue), attempt: "0000000000000002"),
                                          AcceptanceEntry(target: .queue, attempt: "0000000000000002")], "entries")
            // An attempt whose every copy fails records nothing, carried targets included.
            let failing = AcceptanceMark(fingerprint: print2, attempt: "0000000000000003", carried: [.queue])
            _ = try await f.store.deliver([Delivery(user: b.id, message: message("Subject: too big\r\n\r\n"), acceptance: failing)])
            try checkEqual(try await f.store.acceptanceEntries(fingerprint: print2), [], "nothing for a failed attempt")
            // A later attempt replaces an account's entry.
            let retry = AcceptanceMark(fingerprint: print1, attempt: "0000000000000004", carried: [])
            _ = try await f.store.deliver([Delivery(user: a.id, message: message("Subject: again\r\n\r\n"), acceptance: retry)])
            try checkEqual(Set(try await f.store.acceptanceEntries(fingerprint: print1)),
                           [AcceptanceEntry(target: .account(a.id.rawValue), attempt: "0000000000000004"),
                            AcceptanceEntry(target: .queue, attempt: "0000000000000002")], "after a later attempt")
        },
    ]
}
