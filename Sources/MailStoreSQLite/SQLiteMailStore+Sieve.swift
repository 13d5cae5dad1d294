import Foundation
import GRDB
import MailAuth
import MailStore

extension SQLiteMailStore: SieveScriptStore {
    public static let maxSieveScripts = 32
    public static let maxSieveScriptBytes = 256 * 1024

    public func sieveScripts(_ user: UserID) async throws(StoreError) -> [SieveScriptInfo] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT name, active, length(CAST(source AS BLOB)) AS size FROM sieve_script WHERE account_id = ? ORDER BY name",
                             arguments: [user.rawValue])
                .map { SieveScriptInfo(name: $0["name"], active: $0["active"], size: $0["size"]) }
        }
    }

    public func sieveScript(_ user: UserID, named name: String) async throws(StoreError) -> String {
        try await read { db in
            guard let source = try String.fetchOne(db, sql: "SELECT source FROM sieve_script WHERE account_id = ? AND name = ?",
                                                   arguments: [user.rawValue, name]) else { throw StoreError.notFound(name) }
            return source
        }
    }

    public func activeSieveScript(_ user: UserID) async throws(StoreError) -> (name: String, source: String)? {
        let row = try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT name, source FROM sieve_script WHERE account_id = ? AND active = 1"),
                             arguments: [user.rawValue]).map { [$0["name"] as String, $0["source"] as String] }
        }
        return row.map { (name: $0[0], source: $0[1]) }
    }

    public func putSieveScript(_ user: UserID, named name: String, source: String) async throws(StoreError) {
        guard SieveScriptName.isValid(name) else { throw .invalidName(name, reason: "a script name is 1 to 128 characters, no controls") }
        guard source.utf8.count <= Self.maxSieveScriptBytes else { throw .tooLarge(limit: Self.maxSieveScriptBytes) }
        try await write { db, _ in
            let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM sieve_script WHERE account_id = ? AND name = ?",
                                           arguments: [user.rawValue, name]) ?? false
            if exists {
                try db.execute(sql: "UPDATE sieve_script SET source = ? WHERE account_id = ? AND name = ?",
                               arguments: [source, user.rawValue, name])
            } else {
                let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM sieve_script WHERE account_id = ?", arguments: [user.rawValue]) ?? 0
                guard count < Self.maxSieveScripts else { throw StoreError.notPermitted("at most \(Self.maxSieveScripts) scripts") }
                try db.execute(sql: "INSERT INTO sieve_script (account_id, name, source) VALUES (?, ?, ?)",
                               arguments: [user.rawValue, name, source])
            }
        }
    }

    public func activateSieveScript(_ user: UserID, named name: String?) async throws(StoreError) {
        try await write { db, _ in
            if let name {
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM sieve_script WHERE account_id = ? AND name = ?",
                                        arguments: [user.rawValue, name]) ?? false else { throw StoreError.notFound(name) }
            }
            try db.execute(sql: "UPDATE sieve_script SET active = coalesce(name = ?, 0) WHERE account_id = ?", arguments: [name, user.rawValue])
        }
    }

    public func deleteSieveScript(_ user: UserID, named name: String) async throws(StoreError) {
        try await write { db, _ in
            guard let active = try Bool.fetchOne(db, sql: "SELECT active FROM sieve_script WHERE account_id = ? AND name = ?",
                                                 arguments: [user.rawValue, name]) else { throw StoreError.notFound(name) }
            guard !active else { throw StoreError.notPermitted("\(name) is the active script") }
            try db.execute(sql: "DELETE FROM sieve_script WHERE account_id = ? AND name = ?", arguments: [user.rawValue, name])
        }
    }

    public func renameSieveScript(_ user: UserID, from: String, to: String) async throws(StoreError) {
        guard SieveScriptName.isValid(to) else { throw .invalidName(to, reason: "a script name is 1 to 128 characters, no controls") }
        try await write { db, _ in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM sieve_script WHERE account_id = ? AND name = ?",
                                    arguments: [user.rawValue, from]) ?? false else { throw StoreError.notFound(from) }
            guard !(try Bool.fetchOne(db, sql: "SELECT 1 FROM sieve_script WHERE account_id = ? AND name = ?",
                                      arguments: [user.rawValue, to]) ?? false) else { throw StoreError.exists(to) }
            try db.execute(sql: "UPDATE sieve_script SET name = ? WHERE account_id = ? AND name = ?", arguments: [to, user.rawValue, from])
        }
    }

    public func claimVacationReply(_ user: UserID, handle: String, sender: String, period: Int) async throws(StoreError) -> Bool {
        let now = Int64(Date().timeIntervalSince1970)
        return try await write(durable: false) { db, _ in
            try db.execute(sql: "DELETE FROM vacation_reply WHERE account_id = ? AND until <= ?", arguments: [user.rawValue, now])
            let answered = try Bool.fetchOne(db, sql: "SELECT 1 FROM vacation_reply WHERE account_id = ? AND handle = ? AND sender = ?",
                                             arguments: [user.rawValue, handle, sender]) ?? false
            guard !answered else { return false }
            try db.execute(sql: "INSERT INTO vacation_reply (account_id, handle, sender, until) VALUES (?, ?, ?, ?)",
                           arguments: [user.rawValue, handle, sender, now + Int64(max(period, 0))])
            return true
        }
    }
}
