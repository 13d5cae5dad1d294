import Foundation
import GRDB
import MailCore

/// The `acceptance` table that the mailbox store and the outbound queue each keep in their own
/// database, written in the same transaction as the commit it records (see `AcceptanceLedger`).
///
/// Each database creates it in its own migration, with these columns:
/// `fingerprint BLOB, target TEXT, attempt TEXT, at INTEGER, PRIMARY KEY (fingerprint, target)`
/// and an index on `at`.
public enum AcceptanceTable {
    /// Records `targets` as committed by `mark`'s attempt (replacing an earlier attempt's entry
    /// for the same target).
    public static func record(_ db: Database, _ mark: AcceptanceMark, _ targets: [AcceptanceTarget], now: Int64) throws {
        for target in targets {
            try db.execute(sql: "INSERT OR REPLACE INTO acceptance (fingerprint, target, attempt, at) VALUES (?, ?, ?, ?)",
                           arguments: [Data(mark.fingerprint), target.description, mark.attempt, now])
        }
    }

    /// Drops entries older than `AcceptanceLedger.retention`.
    public static func prune(_ db: Database, now: Int64) throws {
        try db.execute(sql: "DELETE FROM acceptance WHERE at < ?", arguments: [now - AcceptanceLedger.retention])
    }

    /// The entries recorded under `fingerprint` within the retention.
    public static func entries(_ db: Database, fingerprint: [UInt8], now: Int64) throws -> [AcceptanceEntry] {
        try Row.fetchAll(db, sql: "SELECT target, attempt FROM acceptance WHERE fingerprint = ? AND at >= ?",
                         arguments: [Data(fingerprint), now - AcceptanceLedger.retention]).compactMap { row in
            AcceptanceTarget(row["target"]).map { AcceptanceEntry(target: $0, attempt: row["attempt"]) }
        }
    }
}
