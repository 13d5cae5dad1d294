import GRDB
import MailCore
import SQLiteSupport
import Testing

/// The acceptance records both databases keep are dropped after `AcceptanceLedger.retention`.
@Suite("Acceptance records")
struct AcceptanceTableTests {
    @Test func entriesOlderThanTheRetentionAreIgnoredAndPruned() throws {
        let db = try DatabaseQueue()
        let now: Int64 = 1_800_000_000
        let old = AcceptanceMark(fingerprint: [1], attempt: "0000000000000001", carried: [])
        let recent = AcceptanceMark(fingerprint: [1], attempt: "0000000000000002", carried: [])
        try db.write { db in
            try AcceptanceTable.create(db)
            try AcceptanceTable.record(db, old, [.queue], now: now - AcceptanceLedger.retention - 1)
            try AcceptanceTable.record(db, recent, [.account(7)], now: now)
            #expect(try AcceptanceTable.entries(db, fingerprint: [1], now: now)
                    == [AcceptanceEntry(target: .account(7), attempt: "0000000000000002")])
            try AcceptanceTable.prune(db, now: now)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM acceptance") == 1)
            #expect(try AcceptanceTable.entries(db, fingerprint: [2], now: now) == [])
        }
    }
}
