import Crypto
import Foundation
import GRDB
import MailAuth
import SQLiteSupport

/// Console and API accounts (`swallow admin add`), their API tokens, and the audit log of every
/// change made through the API or the console, in `admin.sqlite` beside the mail store.
///
/// Passwords are stored as crypt(3) hashes like users' (DESIGN.md §4). An API token is shown
/// once, when made; only its SHA-256 is stored, so a copy of the database gives no access.
public final class AdminAccounts: Sendable {
    public struct Admin: Sendable, Equatable {
        public let name: String
        public let created: Date
        public let tokens: Int
    }

    public struct AuditEntry: Sendable, Codable, Equatable {
        public let time: String
        public let admin: String
        public let action: String
        public let target: String
    }

    /// Tokens look like `swt_` + 43 base64url characters (32 random bytes).
    static let tokenPrefix = "swt_"

    let pool: DatabasePool

    public init(path: String) throws {
        try DurablePool.createPrivateFile(path)
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: config)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE admin (
                    name TEXT PRIMARY KEY,
                    password_hash TEXT NOT NULL,
                    created REAL NOT NULL);
                CREATE TABLE admin_token (
                    digest BLOB PRIMARY KEY,
                    name TEXT NOT NULL REFERENCES admin(name) ON DELETE CASCADE,
                    created REAL NOT NULL);
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY,
                    time REAL NOT NULL,
                    admin TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL);
                """)
        }
        try migrator.migrate(pool)
    }

    /// Adds an account and returns its first API token.
    public func add(_ name: String, password: String) async throws -> String {
        guard Self.isValidName(name) else {
            throw AdminError.badRequest("an admin name is 1 to 64 letters, digits, '.', '_', '-' or '@'")
        }
        guard !password.isEmpty else { throw AdminError.badRequest("the password is empty") }
        let hash = try PasswordHash.make(password)
        try await pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM admin WHERE name = ?", arguments: [name]) == nil else {
                throw AdminError.conflict("admin '\(name)' already exists")
            }
            try db.execute(sql: "INSERT INTO admin (name, password_hash, created) VALUES (?, ?, ?)",
                           arguments: [name, hash, Date().timeIntervalSince1970])
        }
        return try await newToken(name)
    }

    public func setPassword(_ name: String, password: String) async throws {
        guard !password.isEmpty else { throw AdminError.badRequest("the password is empty") }
        let hash = try PasswordHash.make(password)
        try await pool.write { db in
            try db.execute(sql: "UPDATE admin SET password_hash = ? WHERE name = ?", arguments: [hash, name])
            guard db.changesCount == 1 else { throw AdminError.notFound("no admin '\(name)'") }
        }
    }

    /// Removes the account; its tokens stop working at once (the server reads them per request).
    public func remove(_ name: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM admin WHERE name = ?", arguments: [name])
            guard db.changesCount == 1 else { throw AdminError.notFound("no admin '\(name)'") }
        }
    }

    public func list() async throws -> [Admin] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT name, created, (SELECT count(*) FROM admin_token t WHERE t.name = admin.name) AS tokens
                FROM admin ORDER BY name
                """).map { Admin(name: $0["name"], created: Date(timeIntervalSince1970: $0["created"]), tokens: $0["tokens"]) }
        }
    }

    /// A new API token for `name`, shown once; earlier tokens stay valid.
    public func newToken(_ name: String) async throws -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token = Self.tokenPrefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        let digest = Data(SHA256.hash(data: Data(token.utf8)))
        try await pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM admin WHERE name = ?", arguments: [name]) != nil else {
                throw AdminError.notFound("no admin '\(name)'")
            }
            try db.execute(sql: "INSERT INTO admin_token (digest, name, created) VALUES (?, ?, ?)",
                           arguments: [digest, name, Date().timeIntervalSince1970])
        }
        return token
    }

    /// The admin a token belongs to, or nil. The digest is looked up by the database's index:
    /// comparing digests (not tokens) leaks nothing useful through timing.
    public func admin(token: String) async -> String? {
        guard token.hasPrefix(Self.tokenPrefix), token.utf8.count < 200 else { return nil }
        let digest = Data(SHA256.hash(data: Data(token.utf8)))
        return try? await pool.read { db in
            try String.fetchOne(db, sql: "SELECT name FROM admin_token WHERE digest = ?", arguments: [digest])
        }
    }

    /// Whether `password` is `name`'s; the same work when there is no such admin.
    public func verify(_ name: String, password: String) async -> Bool {
        let stored = try? await pool.read { db in
            try String.fetchOne(db, sql: "SELECT password_hash FROM admin WHERE name = ?", arguments: [name])
        }
        // crypt(3) takes tens of milliseconds on purpose: not on the caller's executor.
        return await Task.detached {
            guard let stored else { return PasswordHash.verify(password, account: nil) }
            return PasswordHash.verify(password, against: stored)
        }.value
    }

    public func audit(_ admin: String, _ action: String, _ target: String) async {
        _ = try? await pool.write { db in
            try db.execute(sql: "INSERT INTO audit (time, admin, action, target) VALUES (?, ?, ?, ?)",
                           arguments: [Date().timeIntervalSince1970, admin, action, target])
        }
    }

    public func auditLog(limit: Int = 200) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT time, admin, action, target FROM audit ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map { AuditEntry(time: Date(timeIntervalSince1970: $0["time"]).formatted(.iso8601), admin: $0["admin"],
                                  action: $0["action"], target: $0["target"]) }
        }
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".-_@".unicodeScalars.contains($0))
        }
    }
}
