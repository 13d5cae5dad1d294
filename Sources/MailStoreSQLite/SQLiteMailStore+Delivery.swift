import Foundation
import GRDB
import MailAuth
import MailCore
import MailStore
import SQLiteSupport

extension SQLiteMailStore {
    public func append(_ user: UserID, to mailbox: String, _ message: NewMessage) async throws(StoreError) -> AppendResult {
        let results = try await deliver([Delivery(user: user, mailbox: mailbox, message: message)])
        return try results[0].get()
    }

    public func appendAll(_ user: UserID, to mailbox: String, _ messages: [NewMessage]) async throws(StoreError) -> [AppendResult] {
        let limit = configuration.maxMessageSize
        return try await write { db, changes in
            var bodies = BodyRows()
            return try messages.map { message in
                try Self.insert(db, Delivery(user: user, mailbox: mailbox, message: message), limit: limit, &bodies, &changes)
            }
        }
    }

    public func deliver(_ deliveries: [Delivery]) async throws(StoreError) -> [Result<AppendResult, StoreError>] {
        let limit = configuration.maxMessageSize
        return try await write { db, changes in
            let now = unixNow()
            var bodies = BodyRows()
            var marks: [AcceptanceMark] = []
            var results: [Result<AppendResult, StoreError>] = []
            results.reserveCapacity(deliveries.count)
            for delivery in deliveries {
                // A savepoint per message: one failure (quota, unknown mailbox) does not undo
                // the others in the batch.
                var result: Result<AppendResult, StoreError> = .failure(.temporary("not attempted"))
                try db.inSavepoint {
                    let saved = bodies
                    do {
                        result = .success(try Self.insert(db, delivery, limit: limit, &bodies, &changes))
                        if let mark = delivery.acceptance {
                            try AcceptanceTable.record(db, mark, [.account(delivery.user.rawValue)], now: now)
                        }
                        return .commit
                    } catch let error as StoreError {
                        // The rollback may have taken a body row this delivery inserted with it.
                        bodies = saved
                        result = .failure(error)
                        return .rollback
                    }
                }
                if case .success = result, let mark = delivery.acceptance, !marks.contains(mark) { marks.append(mark) }
                results.append(result)
            }
            for mark in marks { try AcceptanceTable.record(db, mark, mark.carried, now: now) }
            if !marks.isEmpty { try AcceptanceTable.prune(db, now: now) }
            return results
        }
    }

    public func acceptanceEntries(fingerprint: [UInt8]) async throws(StoreError) -> [AcceptanceEntry] {
        try await read { db in try AcceptanceTable.entries(db, fingerprint: fingerprint, now: unixNow()) }
    }

    /// The body rows written in one transaction, by `MessageBody` instance: copies of one
    /// message share one row.
    struct BodyRows {
        private var ids: [ObjectIdentifier: Int64] = [:]

        mutating func id(for body: MessageBody, _ db: Database) throws -> Int64 {
            if let id = ids[ObjectIdentifier(body)] { return id }
            let id = try BodyWriter.insert(body.bytes, db)
            ids[ObjectIdentifier(body)] = id
            return id
        }
    }

    static func insert(_ db: Database, _ delivery: Delivery, limit: Int, _ bodies: inout BodyRows,
                       _ changes: inout ChangeSet) throws -> AppendResult {
        let message = delivery.message
        let size = message.size
        guard size <= limit else { throw StoreError.tooLarge(limit: limit) }
        let name = MailboxName.normalize(delivery.mailbox)
        if name == "INBOX", try mailboxRow(db, delivery.user, name) == nil {
            try ensureDefaults(db, delivery.user, &changes)
        }
        let special = try delivery.specialUse.flatMap { use in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM mailbox WHERE account_id = ? AND special_use = ? ORDER BY id LIMIT 1"),
                             arguments: [delivery.user.rawValue, use.rawValue])
        }
        var found = try special ?? mailboxRow(db, delivery.user, name)
        if found == nil, delivery.create {
            let valid = try MailboxName.validate(name)
            for parent in MailboxName.ancestors(of: valid) where try mailboxRow(db, delivery.user, parent) == nil {
                _ = try insertMailbox(db, delivery.user, parent, specialUse: nil, &changes)
            }
            _ = try insertMailbox(db, delivery.user, valid, specialUse: nil, &changes)
            found = try mailboxRow(db, delivery.user, valid)
        }
        guard let row = found else { throw StoreError.notFound(name) }
        guard row["selectable"] as Bool else { throw StoreError.notPermitted("\(name) is not selectable") }
        try charge(db, delivery.user, bytes: Int64(size), messages: 1)
        let mailboxID: Int64 = row["id"]
        let uid = UInt32(truncatingIfNeeded: row["uidnext"] as Int64)
        let modseq = (row["highest_modseq"] as Int64) + 1
        let bodyID = try bodies.id(for: message.body, db)
        let flags = message.flags
        try db.cachedStatement(sql: """
            INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_zone, size, body_id, prefix)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [mailboxID, uid, modseq, flags.system.rawValue, flags.keywords.joined(separator: " "),
                             message.internalDate.seconds, message.internalDate.zoneMinutes, size, bodyID, Data(message.prefix)])
        try db.cachedStatement(sql: "UPDATE mailbox SET uidnext = ?, highest_modseq = ? WHERE id = ?").execute(
                       arguments: [Int64(uid) + 1, modseq, mailboxID])
        changes.add(delivery.user, MailboxID(mailboxID), .messagesAdded)
        return AppendResult(mailbox: MailboxID(mailboxID), uidValidity: UInt32(truncatingIfNeeded: row["uidvalidity"] as Int64),
                            uid: uid, modSeq: UInt64(modseq))
    }

    /// Adds to (or, negative, removes from) the account's usage, refusing to go over its quota.
    static func charge(_ db: Database, _ user: UserID, bytes: Int64, messages: Int64) throws {
        let usage = try usage(db, user)
        if bytes > 0, usage.limitBytes > 0, usage.bytes + bytes > usage.limitBytes {
            throw StoreError.overQuota(limit: usage.limitBytes, used: usage.bytes, needed: bytes)
        }
        if messages > 0, usage.limitMessages > 0, usage.messages + messages > usage.limitMessages {
            throw StoreError.overQuota(limit: usage.limitMessages, used: usage.messages, needed: messages)
        }
        try db.cachedStatement(sql: "UPDATE account SET used_bytes = max(0, used_bytes + ?), message_count = max(0, message_count + ?) WHERE id = ?").execute(
                       arguments: [bytes, messages, user.rawValue])
    }

    /// A message's bytes from a row with its `prefix` and its body's `bytes`.
    static func messageBytes(_ row: Row) -> [UInt8] {
        let prefix = row.dataNoCopy(named: "prefix") ?? Data()
        let body = row.dataNoCopy(named: "bytes") ?? Data()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(prefix.count + body.count)
        bytes += prefix
        bytes += body
        return bytes
    }
}
