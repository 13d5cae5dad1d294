import Foundation
import GRDB
import MailAuth
import MailStore

/// The changes one write transaction made: logged in the same transaction (for other
/// processes) and published in this process after the commit.
struct ChangeSet: Sendable {
    private(set) var changes: [StoreChange] = []

    mutating func add(_ user: UserID, _ mailbox: MailboxID?, _ kind: StoreChange.Kind) {
        let change = StoreChange(user: user, mailbox: mailbox, kind: kind)
        if !changes.contains(change) { changes.append(change) }
    }

    func log(_ db: Database, origin: String) throws {
        let now = unixNow()
        for c in changes {
            try db.cachedStatement(sql: "INSERT INTO change_log (origin, account_id, mailbox_id, kind, at) VALUES (?, ?, ?, ?, ?)").execute(
                           arguments: [origin, c.user.rawValue, c.mailbox?.rawValue, c.kind.code, now])
        }
    }
}

extension StoreChange.Kind {
    var code: Int {
        switch self {
        case .messagesAdded: 1
        case .flagsChanged: 2
        case .messagesExpunged: 3
        case .mailboxesChanged: 4
        }
    }

    init?(code: Int) {
        switch code {
        case 1: self = .messagesAdded
        case 2: self = .flagsChanged
        case 3: self = .messagesExpunged
        case 4: self = .mailboxesChanged
        default: return nil
        }
    }
}

extension SQLiteMailStore {
    /// How long change_log rows are kept: far longer than any poll interval.
    static let changeLogRetention: Int64 = 600

    /// Reads changes other processes logged since `after` and publishes them here; returns the
    /// new position. The server calls this on a short interval (see `ChangeLogPoller`).
    public func pollForeignChanges(after: Int64?) async throws(StoreError) -> Int64 {
        let origin = self.origin
        let (rows, last) = try await read { db -> ([StoreChange], Int64) in
            let last = try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(max(seq), 0) FROM change_log")) ?? 0
            guard let after else { return ([], last) }
            let rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM change_log WHERE seq > ? AND seq <= ? AND origin != ? ORDER BY seq"),
                                        arguments: [after, last, origin])
            let changes = rows.compactMap { row -> StoreChange? in
                guard let kind = StoreChange.Kind(code: row["kind"]) else { return nil }
                return StoreChange(user: UserID(row["account_id"]), mailbox: (row["mailbox_id"] as Int64?).map(MailboxID.init), kind: kind)
            }
            return (changes, last)
        }
        for change in rows { changes.publish(change) }
        return last
    }

    /// Drops change_log rows every process has had time to read.
    public func pruneChangeLog() async throws(StoreError) {
        let cutoff = unixNow() - Self.changeLogRetention
        try await db.write(mapError: Self.mapError) { db in
            try db.cachedStatement(sql: "DELETE FROM change_log WHERE at < ?").execute(arguments: [cutoff])
        }
    }
}
