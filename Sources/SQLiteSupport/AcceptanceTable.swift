import Foundation
import GRDB
import MailCore

/// The `acceptance` table that the mailbox store and the outbound queue each keep in their own
/// database, written in the same transaction as the commit it records (see `AcceptanceLedger`).
public enum AcceptanceTable {
    /// Creates the table; called by a released migration of each database (the store's
    /// `v3-acceptance`, the queue's `v2-acceptance`), so it is never changed: a new schema
    /// needs a new migration in each.
    public static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE acceptance (
                fingerprint BLOB NOT NULL,
                target TEXT NOT NULL,
                attempt TEXT NOT NULL,
                at INTEGER NOT NULL,
                PRIMARY KEY (fingerprint, target)) WITHOUT ROWID;
            CREATE INDEX acceptance_by_age ON acceptance(at);
            """)
    }

    /// Records `targets` as committed by `mark`'s attempt (replacing an earlier attempt's entry
    /// for the same target).
    public static func record(_ db: Database, _ mark: AcceptanceMark, _ targets: [AcceptanceTarget], now: Int64) throws {
        for target in targets {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO acceptance (fingerprint, target, attempt, at) VALUES (?, ?, ?, ?)").execute(
                           arguments: [Data(mark.fingerprint), target.description, mark.attempt, now])
        }
    }

    /// Drops entries older than `AcceptanceLedger.retention`.
    public static func prune(_ db: Database, now: Int64) throws {
        try db.cachedStatement(sql: "DELETE FROM acceptance WHERE at < ?").execute(arguments: [now - AcceptanceLedger.retention])
    }

    /// The entries recorded under `fingerprint` within the retention.
    public static func entries(_ db: Database, fingerprint: [UInt8], now: Int64) throws -> [AcceptanceEntry] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT target, attempt FROM acceptance WHERE fingerprint = ? AND at >= ?"),
                         arguments: [Data(fingerprint), now - AcceptanceLedger.retention]).compactMap { row in
            AcceptanceTarget(row["target"]).map { AcceptanceEntry(target: $0, attempt: row["attempt"]) }
        }
    }
}
