import Foundation
import GRDB
import MailAuth
import MailStore

/// The mailbox store in the embedded SQLite database (the default backend).
public final class SQLiteMailStore: MailStore {
    public struct Configuration: Sendable {
        /// Largest message the store accepts; the protocol servers enforce their own smaller limits.
        public var maxMessageSize = 256 * 1024 * 1024
        public init() {}
    }

    let db: SQLiteDatabase
    let configuration: Configuration
    public let changes = ChangeFeed()
    /// Identifies this process's rows in `change_log`, so the poller skips its own changes.
    let origin = "\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))"

    public init(_ db: SQLiteDatabase, configuration: Configuration = .init()) {
        self.db = db
        self.configuration = configuration
    }

    static func mapError(_ error: any Error) -> StoreError {
        if let e = error as? StoreError { return e }
        return .temporary(String(describing: error))
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        try await db.read(mapError: Self.mapError, body)
    }

    /// One write transaction; the changes it records are published after it has committed.
    /// `durable: false` for changes that acknowledge no mail (flags, expunges): committed
    /// without an fsync of their own (see `DurablePool.writeRelaxed`).
    func write<T: Sendable>(durable: Bool = true,
                            _ body: @escaping @Sendable (Database, inout ChangeSet) throws -> T) async throws(StoreError) -> T {
        let origin = self.origin
        let transaction: @Sendable (Database) throws -> (T, ChangeSet) = { db in
            var set = ChangeSet()
            let value = try body(db, &set)
            try set.log(db, origin: origin)
            return (value, set)
        }
        let (value, changeSet) = durable
            ? try await db.write(mapError: Self.mapError, transaction)
            : try await db.writeRelaxed(mapError: Self.mapError, transaction)
        for change in changeSet.changes { changes.publish(change) }
        return value
    }

    // MARK: Mailboxes

    public func prepareAccount(_ user: UserID) async throws(StoreError) {
        try await write { db, changes in try Self.ensureDefaults(db, user, &changes) }
    }

    static func ensureDefaults(_ db: Database, _ user: UserID, _ changes: inout ChangeSet) throws {
        guard try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM account WHERE id = ?"), arguments: [user.rawValue]) == 1 else {
            throw StoreError.notFound("account \(user)")
        }
        if try mailboxRow(db, user, "INBOX") == nil {
            try insertMailbox(db, user, "INBOX", specialUse: nil, &changes)
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO subscription (account_id, name) VALUES (?, 'INBOX')").execute(arguments: [user.rawValue])
        }
        for (name, use) in SpecialUse.defaultMailboxes {
            let existing = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM mailbox WHERE account_id = ? AND special_use = ?"),
                                              arguments: [user.rawValue, use.rawValue])
            guard existing == nil, try mailboxRow(db, user, name) == nil else { continue }
            try insertMailbox(db, user, name, specialUse: use, &changes)
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO subscription (account_id, name) VALUES (?, ?)").execute(arguments: [user.rawValue, name])
        }
    }

    public func listMailboxes(_ user: UserID) async throws(StoreError) -> [MailboxInfo] {
        try await read { db in
            let counts = try Self.countsByMailbox(db, user)
            let subscribed = Set(try String.fetchAll(db.cachedStatement(sql: "SELECT name FROM subscription WHERE account_id = ?"), arguments: [user.rawValue]))
            return try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM mailbox WHERE account_id = ? ORDER BY name"), arguments: [user.rawValue])
                .map { row in Self.info(row, counts[row["id"]] ?? .zero, subscribed: subscribed.contains(row["name"])) }
        }
    }

    public func listSubscriptions(_ user: UserID) async throws(StoreError) -> [String] {
        try await read { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT name FROM subscription WHERE account_id = ? ORDER BY name"), arguments: [user.rawValue])
        }
    }

    public func mailbox(_ user: UserID, named name: String) async throws(StoreError) -> MailboxInfo {
        let n = MailboxName.normalize(name)
        return try await read { db in
            guard let row = try Self.mailboxRow(db, user, n) else { throw StoreError.notFound(n) }
            return try Self.info(db, row)
        }
    }

    public func mailbox(id: MailboxID) async throws(StoreError) -> MailboxInfo {
        try await read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM mailbox WHERE id = ?"), arguments: [id.rawValue]) else {
                throw StoreError.notFound("mailbox \(id)")
            }
            return try Self.info(db, row)
        }
    }

    @discardableResult
    public func createMailbox(_ user: UserID, named name: String, specialUse: SpecialUse?) async throws(StoreError) -> MailboxInfo {
        let n = try MailboxName.validate(name)
        return try await write { db, changes in
            if let row = try Self.mailboxRow(db, user, n) {
                guard !(row["selectable"] as Bool) else { throw StoreError.exists(n) }
                // A \Noselect name kept for its children becomes a real mailbox again, with a
                // new UIDVALIDITY (RFC 9051 §2.3.1.1: names are never reused with old UIDs).
                let validity = try Self.nextUIDValidity(db)
                try db.cachedStatement(sql: "UPDATE mailbox SET selectable = 1, uidvalidity = ?, uidnext = 1, special_use = ? WHERE id = ?").execute(
                               arguments: [validity, specialUse?.rawValue, row["id"] as Int64])
                changes.add(user, nil, .mailboxesChanged)
            } else {
                for parent in MailboxName.ancestors(of: n) where try Self.mailboxRow(db, user, parent) == nil {
                    try Self.insertMailbox(db, user, parent, specialUse: nil, &changes)
                }
                try Self.insertMailbox(db, user, n, specialUse: specialUse, &changes)
            }
            return try Self.info(db, Self.mailboxRow(db, user, n)!)
        }
    }

    public func deleteMailbox(_ user: UserID, named name: String) async throws(StoreError) {
        let n = MailboxName.normalize(name)
        guard n != "INBOX" else { throw .notPermitted("INBOX cannot be deleted") }
        try await write { db, changes in
            guard let row = try Self.mailboxRow(db, user, n) else { throw StoreError.notFound(n) }
            let id: Int64 = row["id"]
            let hasChildren = try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT EXISTS (SELECT 1 FROM mailbox WHERE account_id = ? AND substr(name, 1, ?) = ?)
                """), arguments: [user.rawValue, n.unicodeScalars.count + 1, n + "/"]) ?? false
            try Self.removeAllMessages(db, user, mailbox: id)
            if hasChildren {
                // RFC 9051 §6.3.5: a name with inferiors that is already \Noselect cannot be deleted.
                guard row["selectable"] as Bool else { throw StoreError.notPermitted("\(n) has children and is not selectable") }
                try db.cachedStatement(sql: "UPDATE mailbox SET selectable = 0 WHERE id = ?").execute(arguments: [id])
            } else {
                try db.cachedStatement(sql: "DELETE FROM mailbox WHERE id = ?").execute(arguments: [id])
            }
            changes.add(user, MailboxID(id), .messagesExpunged)
            changes.add(user, nil, .mailboxesChanged)
        }
    }

    public func renameMailbox(_ user: UserID, from: String, to: String) async throws(StoreError) {
        let old = MailboxName.normalize(from)
        let new = try MailboxName.validate(to)
        guard old != new else { throw .exists(new) }
        guard !new.hasPrefix(old + "/") else { throw .invalidName(new, reason: "cannot move a mailbox into itself") }
        try await write { db, changes in
            guard let row = try Self.mailboxRow(db, user, old) else { throw StoreError.notFound(old) }
            guard try Self.mailboxRow(db, user, new) == nil else { throw StoreError.exists(new) }
            for parent in MailboxName.ancestors(of: new) where try Self.mailboxRow(db, user, parent) == nil {
                try Self.insertMailbox(db, user, parent, specialUse: nil, &changes)
            }
            if old == "INBOX" {
                // RFC 9051 §6.3.6: renaming INBOX moves its messages to the new mailbox and leaves
                // INBOX empty; INBOX's children stay where they are.
                let target = try Self.insertMailbox(db, user, new, specialUse: nil, &changes)
                let inbox: Int64 = row["id"]
                let uids = try UInt32.fetchAll(db.cachedStatement(sql: "SELECT uid FROM message WHERE mailbox_id = ? ORDER BY uid"), arguments: [inbox])
                _ = try Self.copyMessages(db, user, from: inbox, uids: uids, to: target, &changes)
                try Self.deleteMessages(db, user, mailbox: inbox, uids: uids, &changes)
            } else {
                try db.cachedStatement(sql: "UPDATE mailbox SET name = ? || substr(name, ?) WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)").execute(
                               arguments: [new, old.unicodeScalars.count + 1, user.rawValue, old, old.unicodeScalars.count + 1, old + "/"])
                // Dovecot moves subscriptions along; clients expect the renamed tree to stay subscribed.
                try db.cachedStatement(sql: "UPDATE OR REPLACE subscription SET name = ? || substr(name, ?) WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)").execute(
                               arguments: [new, old.unicodeScalars.count + 1, user.rawValue, old, old.unicodeScalars.count + 1, old + "/"])
            }
            changes.add(user, nil, .mailboxesChanged)
        }
    }

    public func setSubscribed(_ user: UserID, named name: String, _ subscribed: Bool) async throws(StoreError) {
        let n = try MailboxName.validate(name)
        try await write { db, changes in
            if subscribed {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO subscription (account_id, name) VALUES (?, ?)").execute(arguments: [user.rawValue, n])
            } else {
                try db.cachedStatement(sql: "DELETE FROM subscription WHERE account_id = ? AND name = ?").execute(arguments: [user.rawValue, n])
                guard db.changesCount > 0 else { throw StoreError.notFound("subscription \(n)") }
            }
            changes.add(user, nil, .mailboxesChanged)
        }
    }

    public func quotaUsage(_ user: UserID) async throws(StoreError) -> QuotaUsage {
        try await read { db in
            try Self.usage(db, user)
        }
    }

    public func claimQuotaWarning(_ user: UserID, percent: Int) async throws(StoreError) -> QuotaUsage? {
        guard percent > 0 else { return nil }
        let crossing: @Sendable (Database) throws -> (usage: QuotaUsage, over: Bool)? = { db in
            let usage = try Self.usage(db, user)
            let warned = try Bool.fetchOne(db.cachedStatement(sql: "SELECT quota_warned FROM account WHERE id = ?"), arguments: [user.rawValue]) ?? false
            let over = usage.isLimited && usage.percentUsed >= percent
            return over == warned ? nil : (usage, over)
        }
        // Read first: almost every delivery changes nothing, and needs no write transaction.
        guard try await read(crossing) != nil else { return nil }
        // Not durable: a flag lost to a power cut costs at most a second warning.
        return try await write(durable: false) { db, _ in
            guard let (usage, over) = try crossing(db) else { return nil }
            try db.cachedStatement(sql: "UPDATE account SET quota_warned = ? WHERE id = ?").execute(arguments: [over, user.rawValue])
            return over ? usage : nil
        }
    }

    static func usage(_ db: Database, _ user: UserID) throws -> QuotaUsage {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT used_bytes, message_count, quota_bytes, max_messages FROM account WHERE id = ?"),
                                         arguments: [user.rawValue]) else { throw StoreError.notFound("account \(user)") }
        return QuotaUsage(bytes: row["used_bytes"], messages: row["message_count"], limitBytes: row["quota_bytes"],
                          limitMessages: row["max_messages"])
    }

    // MARK: Mailbox rows

    static func mailboxRow(_ db: Database, _ user: UserID, _ name: String) throws -> Row? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM mailbox WHERE account_id = ? AND name = ?"), arguments: [user.rawValue, name])
    }

    @discardableResult
    static func insertMailbox(_ db: Database, _ user: UserID, _ name: String, specialUse: SpecialUse?, _ changes: inout ChangeSet) throws -> Int64 {
        try db.cachedStatement(sql: "INSERT INTO mailbox (account_id, name, uidvalidity, special_use) VALUES (?, ?, ?, ?)").execute(
                       arguments: [user.rawValue, name, try nextUIDValidity(db), specialUse?.rawValue])
        changes.add(user, nil, .mailboxesChanged)
        return db.lastInsertedRowID
    }

    /// RFC 9051 §2.3.1.1 suggests a time-based UIDVALIDITY; it must also never repeat for a
    /// name, so it is the larger of "now" and the last one handed out plus one.
    static func nextUIDValidity(_ db: Database) throws -> UInt32 {
        let last = try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM counter WHERE name = 'uidvalidity'")) ?? 0
        let next = max(unixNow() & 0xFFFF_FFFF, last + 1) & 0xFFFF_FFFF
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO counter (name, value) VALUES ('uidvalidity', ?)").execute(arguments: [next])
        return UInt32(max(next, 1))
    }

    struct Counts: Sendable {
        var messages = 0, unseen = 0, deleted = 0
        var size: Int64 = 0
        static let zero = Counts()
    }

    static func countsByMailbox(_ db: Database, _ user: UserID) throws -> [Int64: Counts] {
        var result: [Int64: Counts] = [:]
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT m.mailbox_id, count(*) AS n, sum((m.flags & \(SystemFlags.seen.rawValue)) = 0) AS unseen,
                   sum((m.flags & \(SystemFlags.deleted.rawValue)) != 0) AS deleted, sum(m.size) AS size
            FROM message m JOIN mailbox b ON b.id = m.mailbox_id WHERE b.account_id = ? GROUP BY m.mailbox_id
            """), arguments: [user.rawValue])
        for row in rows {
            result[row["mailbox_id"]] = Counts(messages: row["n"], unseen: row["unseen"], deleted: row["deleted"], size: row["size"])
        }
        return result
    }

    static func info(_ db: Database, _ row: Row) throws -> MailboxInfo {
        let id: Int64 = row["id"]
        let c = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT count(*) AS n, coalesce(sum((flags & \(SystemFlags.seen.rawValue)) = 0), 0) AS unseen,
                   coalesce(sum((flags & \(SystemFlags.deleted.rawValue)) != 0), 0) AS deleted, coalesce(sum(size), 0) AS size
            FROM message WHERE mailbox_id = ?
            """), arguments: [id])!
        let subscribed = try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM subscription WHERE account_id = ? AND name = ?)"),
                                           arguments: [row["account_id"] as Int64, row["name"] as String]) ?? false
        return info(row, Counts(messages: c["n"], unseen: c["unseen"], deleted: c["deleted"], size: c["size"]), subscribed: subscribed)
    }

    static func info(_ row: Row, _ counts: Counts, subscribed: Bool) -> MailboxInfo {
        MailboxInfo(
            id: MailboxID(row["id"]), user: UserID(row["account_id"]), name: row["name"],
            uidValidity: UInt32(truncatingIfNeeded: row["uidvalidity"] as Int64),
            uidNext: UInt32(truncatingIfNeeded: row["uidnext"] as Int64),
            highestModSeq: UInt64(row["highest_modseq"] as Int64),
            specialUse: (row["special_use"] as String?).flatMap(SpecialUse.init(rawValue:)),
            subscribed: subscribed, selectable: row["selectable"],
            messageCount: counts.messages, unseenCount: counts.unseen, deletedCount: counts.deleted, totalSize: counts.size)
    }
}
