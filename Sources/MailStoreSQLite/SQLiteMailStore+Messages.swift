import Foundation
import GRDB
import MailAuth
import MailStore

extension SQLiteMailStore {
    public func messages(in mailbox: MailboxID, uids: UIDSet) async throws(StoreError) -> [MessageSummary] {
        try await read { db in try Self.summaries(db, mailbox: mailbox.rawValue, uids: uids) }
    }

    public func messages(in mailbox: MailboxID, changedSince modSeq: UInt64) async throws(StoreError) -> [MessageSummary] {
        try await read { db in
            try Self.summaries(db.cachedStatement(sql: "SELECT \(Self.summaryColumns) FROM message WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"),
                               [mailbox.rawValue, Int64(clamping: modSeq)])
        }
    }

    public func expungedUIDs(in mailbox: MailboxID, since modSeq: UInt64) async throws(StoreError) -> [UInt32] {
        try await read { db in
            try UInt32.fetchAll(db.cachedStatement(sql: "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"),
                                arguments: [mailbox.rawValue, Int64(clamping: modSeq)])
        }
    }

    public func sync(_ mailbox: MailboxID, since modSeq: UInt64) async throws(StoreError) -> MailboxSync {
        try await read { db in
            // Not `mailboxByID`'s counts: a resync needs only the three numbers, and counting
            // is a scan of the whole mailbox.
            guard let box = try Row.fetchOne(db.cachedStatement(sql: "SELECT uidvalidity, uidnext, highest_modseq FROM mailbox WHERE id = ?"),
                                             arguments: [mailbox.rawValue]) else {
                throw StoreError.notFound("mailbox \(mailbox)")
            }
            let since = Int64(clamping: modSeq)
            // Both through the (mailbox_id, modseq) keys: nothing is read when nothing changed.
            let changed = try Self.summaries(db.cachedStatement(sql: "SELECT \(Self.summaryColumns) FROM message WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"),
                                             [mailbox.rawValue, since])
            let expunged = try UInt32.fetchAll(db.cachedStatement(sql: "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"),
                                               arguments: [mailbox.rawValue, since])
            return MailboxSync(uidValidity: UInt32(truncatingIfNeeded: box["uidvalidity"] as Int64),
                               uidNext: UInt32(truncatingIfNeeded: box["uidnext"] as Int64),
                               highestModSeq: UInt64(box["highest_modseq"] as Int64), changed: changed, expunged: expunged)
        }
    }

    public func messageBytes(in mailbox: MailboxID, uid: UInt32) async throws(StoreError) -> [UInt8] {
        try await read { db in
            // A cursor, not fetchOne: its row's blobs are read in place, not copied first.
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT m.prefix, b.bytes FROM message m JOIN message_body b ON b.id = m.body_id WHERE m.mailbox_id = ? AND m.uid = ?
                """), arguments: [mailbox.rawValue, uid])
            guard let row = try rows.next() else { throw StoreError.expunged }
            return Self.messageBytes(row)
        }
    }

    public func messageBytes(in mailbox: MailboxID, uids: UIDSet) async throws(StoreError) -> [UInt32: [UInt8]] {
        try await messageBytes(in: mailbox, uids: uids, column: "b.bytes")
    }

    public func messageHeaders(in mailbox: MailboxID, uids: UIDSet) async throws(StoreError) -> [UInt32: [UInt8]] {
        // The body up to its first CRLF CRLF, cut by SQLite: the rest never reaches Swift.
        // (`instr` and `substr` count bytes on a BLOB.) The prefix is header lines only.
        try await messageBytes(in: mailbox, uids: uids, column: """
            CASE instr(b.bytes, x'0d0a0d0a') WHEN 0 THEN b.bytes ELSE substr(b.bytes, 1, instr(b.bytes, x'0d0a0d0a') + 3) END
            """)
    }

    private func messageBytes(in mailbox: MailboxID, uids: UIDSet, column: String) async throws(StoreError) -> [UInt32: [UInt8]] {
        try await read { db in
            var result: [UInt32: [UInt8]] = [:]
            try Self.forEachRangeSlice(uids) { condition, arguments, cacheable in
                let rows = try Row.fetchCursor(db.statement(sql: """
                    SELECT m.uid, m.prefix, \(column) AS bytes FROM message m JOIN message_body b ON b.id = m.body_id
                    WHERE m.mailbox_id = ? AND (\(condition))
                    """, cached: cacheable), arguments: [mailbox.rawValue] + arguments)
                while let row = try rows.next() {
                    result[UInt32(truncatingIfNeeded: row["uid"] as Int64)] = Self.messageBytes(row)
                }
            }
            return result
        }
    }

    public func setFlags(in mailbox: MailboxID, uids: UIDSet, _ operation: FlagOperation, _ flags: MessageFlags,
                         unchangedSince: UInt64?) async throws(StoreError) -> FlagUpdateResult {
        try await write(durable: false) { db, changes in
            let box = try Self.mailboxByID(db, mailbox)
            let current = try Self.summaries(db, mailbox: mailbox.rawValue, uids: uids)
            var modified: [UInt32] = []
            var pending: [(MessageSummary, MessageFlags)] = []
            for message in current {
                // RFC 7162 §3.1.3: a message changed after UNCHANGEDSINCE is left alone and reported.
                if let since = unchangedSince, message.modSeq > since {
                    modified.append(message.uid)
                    continue
                }
                let updated = Self.apply(operation, flags, to: message.flags)
                if updated != message.flags { pending.append((message, updated)) }
            }
            guard !pending.isEmpty else { return FlagUpdateResult(updated: [], modified: modified) }
            // One new MODSEQ for the whole command (RFC 7162 §3.1.1 allows sharing).
            let modseq = (box["highest_modseq"] as Int64) + 1
            try db.cachedStatement(sql: "UPDATE mailbox SET highest_modseq = ? WHERE id = ?").execute(arguments: [modseq, mailbox.rawValue])
            var updated: [MessageSummary] = []
            for (message, newFlags) in pending {
                try db.cachedStatement(sql: "UPDATE message SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?").execute(
                               arguments: [newFlags.system.rawValue, newFlags.keywords.joined(separator: " "), modseq,
                                           mailbox.rawValue, message.uid])
                updated.append(MessageSummary(uid: message.uid, modSeq: UInt64(modseq), flags: newFlags,
                                              internalDate: message.internalDate, size: message.size))
            }
            changes.add(UserID(box["account_id"]), mailbox, .flagsChanged)
            return FlagUpdateResult(updated: updated, modified: modified)
        }
    }

    static func apply(_ operation: FlagOperation, _ flags: MessageFlags, to current: MessageFlags) -> MessageFlags {
        switch operation {
        case .replace:
            return flags
        case .add:
            return MessageFlags(system: current.system.union(flags.system), keywords: current.keywords + flags.keywords)
        case .remove:
            let removed = Set(flags.keywords.map { $0.lowercased() })
            return MessageFlags(system: current.system.subtracting(flags.system),
                                keywords: current.keywords.filter { !removed.contains($0.lowercased()) })
        }
    }

    public func copy(from mailbox: MailboxID, uids: UIDSet, to destination: String) async throws(StoreError) -> CopyResult {
        try await transfer(from: mailbox, uids: uids, to: destination, removeSource: false)
    }

    public func move(from mailbox: MailboxID, uids: UIDSet, to destination: String) async throws(StoreError) -> CopyResult {
        try await transfer(from: mailbox, uids: uids, to: destination, removeSource: true)
    }

    private func transfer(from mailbox: MailboxID, uids: UIDSet, to destination: String, removeSource: Bool) async throws(StoreError) -> CopyResult {
        let name = MailboxName.normalize(destination)
        return try await write { db, changes in
            let source = try Self.mailboxByID(db, mailbox)
            let user = UserID(source["account_id"])
            guard let target = try Self.mailboxRow(db, user, name) else { throw StoreError.notFound(name) }
            guard target["selectable"] as Bool else { throw StoreError.notPermitted("\(name) is not selectable") }
            let targetID: Int64 = target["id"]
            let selected = try Self.summaries(db, mailbox: mailbox.rawValue, uids: uids).map(\.uid)
            let pairs = try Self.copyMessages(db, user, from: mailbox.rawValue, uids: selected, to: targetID, &changes)
            if removeSource { try Self.deleteMessages(db, user, mailbox: mailbox.rawValue, uids: selected, &changes) }
            return CopyResult(destination: MailboxID(targetID), uidValidity: UInt32(truncatingIfNeeded: target["uidvalidity"] as Int64),
                              uids: pairs)
        }
    }

    public func expunge(in mailbox: MailboxID, uids: UIDSet?) async throws(StoreError) -> [UInt32] {
        try await write(durable: false) { db, changes in
            let box = try Self.mailboxByID(db, mailbox)
            let doomed = try Self.summaries(db, mailbox: mailbox.rawValue, uids: uids ?? .all)
                .filter { $0.flags.system.contains(.deleted) }.map(\.uid)
            try Self.deleteMessages(db, UserID(box["account_id"]), mailbox: mailbox.rawValue, uids: doomed, &changes)
            return doomed
        }
    }

    // MARK: Shared message operations (inside a write transaction)

    /// Copies messages (sharing their bodies, each with its own prefix) into `target` with new
    /// UIDs and one new MODSEQ.
    static func copyMessages(_ db: Database, _ user: UserID, from source: Int64, uids: [UInt32], to target: Int64,
                             _ changes: inout ChangeSet) throws -> [(source: UInt32, destination: UInt32)] {
        guard !uids.isEmpty else { return [] }
        let box = try Row.fetchOne(db.cachedStatement(sql: "SELECT uidnext, highest_modseq FROM mailbox WHERE id = ?"), arguments: [target])!
        var next: Int64 = box["uidnext"]
        let modseq = (box["highest_modseq"] as Int64) + 1
        var pairs: [(source: UInt32, destination: UInt32)] = []
        var bytes: Int64 = 0
        for uid in uids {
            try db.cachedStatement(sql: """
                INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_zone, size, body_id, prefix)
                SELECT ?, ?, ?, flags, keywords, internal_date, internal_zone, size, body_id, prefix
                FROM message WHERE mailbox_id = ? AND uid = ?
                """).execute(arguments: [target, next, modseq, source, uid])
            bytes += try Int64.fetchOne(db.cachedStatement(sql: "SELECT size FROM message WHERE mailbox_id = ? AND uid = ?"), arguments: [target, next]) ?? 0
            pairs.append((uid, UInt32(truncatingIfNeeded: next)))
            next += 1
        }
        try charge(db, user, bytes: bytes, messages: Int64(uids.count))
        try db.cachedStatement(sql: "UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?").execute(arguments: [next, modseq, target])
        changes.add(user, MailboxID(target), .messagesAdded)
        return pairs
    }

    /// Removes messages, remembers their UIDs for QRESYNC, and frees bodies no copy uses.
    static func deleteMessages(_ db: Database, _ user: UserID, mailbox: Int64, uids: [UInt32], _ changes: inout ChangeSet) throws {
        guard !uids.isEmpty else { return }
        let modseq = (try Int64.fetchOne(db.cachedStatement(sql: "SELECT highest_modseq FROM mailbox WHERE id = ?"), arguments: [mailbox]) ?? 0) + 1
        var bytes: Int64 = 0
        var bodies = Set<Int64>()
        for uid in uids {
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT size, body_id FROM message WHERE mailbox_id = ? AND uid = ?"),
                                             arguments: [mailbox, uid]) else { continue }
            bytes += row["size"] as Int64
            bodies.insert(row["body_id"])
            try db.cachedStatement(sql: "DELETE FROM message WHERE mailbox_id = ? AND uid = ?").execute(arguments: [mailbox, uid])
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)").execute(arguments: [mailbox, uid, modseq])
        }
        for body in bodies {
            try db.cachedStatement(sql: "DELETE FROM message_body WHERE id = ? AND NOT EXISTS (SELECT 1 FROM message WHERE body_id = ?)").execute(
                           arguments: [body, body])
        }
        try charge(db, user, bytes: -bytes, messages: -Int64(uids.count))
        try db.cachedStatement(sql: "UPDATE mailbox SET highest_modseq = ? WHERE id = ?").execute(arguments: [modseq, mailbox])
        changes.add(user, MailboxID(mailbox), .messagesExpunged)
    }

    static func removeAllMessages(_ db: Database, _ user: UserID, mailbox: Int64) throws {
        var ignored = ChangeSet()
        let uids = try UInt32.fetchAll(db.cachedStatement(sql: "SELECT uid FROM message WHERE mailbox_id = ?"), arguments: [mailbox])
        try deleteMessages(db, user, mailbox: mailbox, uids: uids, &ignored)
    }

    static func mailboxByID(_ db: Database, _ id: MailboxID) throws -> Row {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM mailbox WHERE id = ?"), arguments: [id.rawValue]) else {
            throw StoreError.notFound("mailbox \(id)")
        }
        return row
    }

    /// Message rows whose UIDs are in `uids`, in UID order.
    static func summaries(_ db: Database, mailbox: Int64, uids: UIDSet) throws -> [MessageSummary] {
        var result: [MessageSummary] = []
        try forEachRangeSlice(uids) { condition, arguments, cacheable in
            result += try summaries(db.statement(sql: "SELECT \(summaryColumns) FROM message WHERE mailbox_id = ? AND (\(condition)) ORDER BY uid",
                                                 cached: cacheable),
                                 [mailbox] + arguments)
        }
        return result
    }

    /// Calls `body` with an SQL condition on `uid` for each slice of the set's ranges, so large
    /// sets stay under SQLite's bound-parameter limit. `cacheable`: the condition is one of the
    /// few common shapes (up to `cachedRangeCount` ranges), worth keeping prepared.
    static func forEachRangeSlice(_ uids: UIDSet, _ body: (String, StatementArguments, _ cacheable: Bool) throws -> Void) throws {
        let rangesPerQuery = 200
        var start = 0
        while start < uids.ranges.count {
            let slice = uids.ranges[start..<min(start + rangesPerQuery, uids.ranges.count)]
            var arguments = StatementArguments()
            let condition = slice.map { r -> String in
                arguments += [Int64(r.lowerBound), Int64(r.upperBound)]
                return "uid BETWEEN ? AND ?"
            }.joined(separator: " OR ")
            try body(condition, arguments, slice.count <= cachedRangeCount)
            start += rangesPerQuery
        }
    }

    /// Statements over at most this many UID ranges stay in each connection's statement cache;
    /// longer ones are compiled for their one use, so the cache stays small.
    static let cachedRangeCount = 4

    /// The columns `summaries(_:_:)` reads, in its order: never `*`, which would copy each
    /// row's prefix blob too.
    static let summaryColumns = "uid, modseq, flags, keywords, internal_date, internal_zone, size"

    /// Runs a `SELECT summaryColumns ...` statement; columns by position, rows through a cursor
    /// (a selected mailbox's every message goes through here).
    static func summaries(_ statement: Statement, _ arguments: StatementArguments) throws -> [MessageSummary] {
        var result: [MessageSummary] = []
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try rows.next() {
            let keywords: String = row[3]
            result.append(MessageSummary(
                uid: UInt32(truncatingIfNeeded: row[0] as Int64), modSeq: UInt64(row[1] as Int64),
                flags: MessageFlags(system: SystemFlags(rawValue: row[2]),
                                    keywords: keywords.isEmpty ? [] : keywords.split(separator: " ").map(String.init)),
                internalDate: InternalDate(seconds: row[4], zoneMinutes: row[5]),
                size: row[6]))
        }
        return result
    }
}
