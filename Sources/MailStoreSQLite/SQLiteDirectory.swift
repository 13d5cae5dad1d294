import Foundation
import GRDB
import MailAuth

/// The user directory in the embedded SQLite database. Every call reads the database, so a
/// change made by another process (the CLI) is seen by the next call.
public struct SQLiteDirectory: DirectoryAdministration {
    let db: SQLiteDatabase

    public init(_ db: SQLiteDatabase) { self.db = db }

    private static func mapError(_ error: any Error) -> DirectoryError {
        if let e = error as? DirectoryError { return e }
        return .temporary(String(describing: error))
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(DirectoryError) -> T {
        try await db.read(mapError: Self.mapError, body)
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(DirectoryError) -> T {
        try await db.write(mapError: Self.mapError, body)
    }

    // MARK: UserDirectory

    public func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        try await read { db in try Self.domainID(db, domain) != nil }
    }

    public func account(login: String) async throws(DirectoryError) -> Account? {
        try await read { db in try Self.account(db, address: login) }
    }

    public func account(id: UserID) async throws(DirectoryError) -> Account? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM account WHERE id = ?"), arguments: [id.rawValue]).map(Self.account(row:))
        }
    }

    public func resolve(recipient address: String) async throws(DirectoryError) -> RecipientResolution {
        guard let (local, domain) = DirectoryAddress.split(address), !local.isEmpty else { return .unknownUser }
        return try await read { db in
            guard try Self.domainID(db, domain) != nil else { return .notLocal }
            var accounts: [Account] = []
            var forward: [String] = []
            var seen = Set<String>()
            try Self.expand(db, local: local, domain: domain, depth: 0, accounts: &accounts, forward: &forward, seen: &seen)
            if accounts.isEmpty && forward.isEmpty { return .unknownUser }
            return .deliver(accounts: accounts, forward: forward)
        }
    }

    public func mayUseSender(_ sender: String, account: Account) async throws(DirectoryError) -> Bool {
        guard let (local, domain) = DirectoryAddress.split(sender) else { return false }
        let base = DirectoryAddress.strippingSubaddress(local) ?? local
        let own = "\(base)@\(domain)".lowercased()
        if own == account.address.lowercased() { return true }
        // Any alias (not a catch-all) that delivers to this account is a sender identity of it.
        let resolution = try await resolve(recipient: "\(base)@\(domain)")
        guard case .deliver(let accounts, _) = resolution else { return false }
        let isAlias = try await read { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM alias WHERE source = ?)"), arguments: [own]) ?? false
        }
        return isAlias && accounts.contains { $0.id == account.id }
    }

    /// Alias expansion, depth-first: exact address, then the address without `+tag`, then the
    /// catch-all `@domain`. An address that is an account delivers to it (an alias with the same
    /// name as an account adds to it, as Postfix's virtual_alias_maps does not; we keep the
    /// account reachable).
    private static func expand(
        _ db: Database, local: String, domain: String, depth: Int,
        accounts: inout [Account], forward: inout [String], seen: inout Set<String>
    ) throws {
        guard depth <= DirectoryAddress.maxAliasDepth else { throw DirectoryError.aliasLoop("\(local)@\(domain)") }
        let address = "\(local)@\(domain)"
        guard seen.insert(address.lowercased()).inserted else { return }
        guard try domainID(db, domain) != nil else {
            forward.append(address)
            return
        }
        var candidates = [address]
        if let base = DirectoryAddress.strippingSubaddress(local) { candidates.append("\(base)@\(domain)") }
        for candidate in candidates {
            var found = false
            if let account = try account(db, address: candidate) {
                if !accounts.contains(where: { $0.id == account.id }) { accounts.append(account) }
                found = true
            }
            let targets = try String.fetchAll(db.cachedStatement(sql: "SELECT target FROM alias WHERE source = ? ORDER BY target"), arguments: [candidate])
            for target in targets {
                guard let (tl, td) = DirectoryAddress.split(target) else { continue }
                try expand(db, local: tl, domain: td, depth: depth + 1, accounts: &accounts, forward: &forward, seen: &seen)
                found = true
            }
            if found { return }
        }
        // The catch-all applies only when nothing more specific matched.
        let catchAll = try String.fetchAll(db.cachedStatement(sql: "SELECT target FROM alias WHERE source = ? ORDER BY target"), arguments: ["@\(domain)"])
        for target in catchAll {
            guard let (tl, td) = DirectoryAddress.split(target) else { continue }
            try expand(db, local: tl, domain: td, depth: depth + 1, accounts: &accounts, forward: &forward, seen: &seen)
        }
    }

    // MARK: DirectoryAdministration

    public func addDomain(_ domain: String) async throws(DirectoryError) {
        let name = domain.lowercased()
        guard DirectoryAddress.isValidDomain(name) else { throw .invalidDomain(domain) }
        try await write { db in
            guard try Self.domainID(db, name) == nil else { throw DirectoryError.domainExists(name) }
            try db.cachedStatement(sql: "INSERT INTO domain (name, created_at) VALUES (?, ?)").execute(arguments: [name, unixNow()])
        }
    }

    public func removeDomain(_ domain: String) async throws(DirectoryError) {
        let name = domain.lowercased()
        try await write { db in
            guard let id = try Self.domainID(db, name) else { throw DirectoryError.unknownDomain(name) }
            let users = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM account WHERE domain_id = ?"), arguments: [id]) ?? 0
            guard users == 0 else { throw DirectoryError.domainInUse(name, accounts: users) }
            try db.cachedStatement(sql: "DELETE FROM alias WHERE source = ? OR source LIKE ? ESCAPE '\\'").execute(
                           arguments: ["@\(name)", "%@" + Self.escapeLike(name)])
            try db.cachedStatement(sql: "DELETE FROM domain WHERE id = ?").execute(arguments: [id])
        }
    }

    public func listDomains() async throws(DirectoryError) -> [String] {
        try await read { db in try String.fetchAll(db.cachedStatement(sql: "SELECT name FROM domain ORDER BY name")) }
    }

    @discardableResult
    public func addUser(_ address: String, passwordHash: String, scram: String?, quotaBytes: Int64, maxMessages: Int64) async throws(DirectoryError) -> Account {
        let canonical = try DirectoryAddress.canonical(address)
        return try await write { db in
            let (_, domain) = DirectoryAddress.split(canonical)!
            guard let domainID = try Self.domainID(db, domain) else { throw DirectoryError.unknownDomain(domain) }
            guard try Self.account(db, address: canonical) == nil else { throw DirectoryError.userExists(canonical) }
            try db.cachedStatement(sql: """
                INSERT INTO account (address, domain_id, password_hash, scram, quota_bytes, max_messages, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [canonical, domainID, passwordHash, scram, max(0, quotaBytes), max(0, maxMessages), unixNow()])
            return Account(id: UserID(db.lastInsertedRowID), address: canonical, passwordHash: passwordHash,
                           scram: scram, quotaBytes: max(0, quotaBytes), maxMessages: max(0, maxMessages))
        }
    }

    public func setPassword(_ address: String, passwordHash: String, scram: String?) async throws(DirectoryError) {
        try await write { db in
            try db.cachedStatement(sql: "UPDATE account SET password_hash = ?, scram = ? WHERE address = ?").execute(
                           arguments: [passwordHash, scram, address])
            guard db.changesCount == 1 else { throw DirectoryError.unknownUser(address) }
        }
    }

    public func setQuota(_ address: String, quotaBytes: Int64?, maxMessages: Int64?) async throws(DirectoryError) {
        try await write { db in
            // COALESCE keeps the limit that was not given. A new limit re-arms the warning
            // (SQLiteMailStore.checkQuotaWarning): a user given a new quota is warned near it.
            try db.cachedStatement(sql: """
                UPDATE account SET quota_bytes = COALESCE(?, quota_bytes), max_messages = COALESCE(?, max_messages),
                                   quota_warned = 0 WHERE address = ?
                """).execute(arguments: [quotaBytes.map { max(0, $0) }, maxMessages.map { max(0, $0) }, address])
            guard db.changesCount == 1 else { throw DirectoryError.unknownUser(address) }
        }
    }

    public func removeUser(_ address: String) async throws(DirectoryError) {
        try await write { db in
            guard let account = try Self.account(db, address: address) else { throw DirectoryError.unknownUser(address) }
            // Cascades to mailboxes, messages and subscriptions; then free the bodies no one references.
            try db.cachedStatement(sql: "DELETE FROM account WHERE id = ?").execute(arguments: [account.id.rawValue])
            try db.cachedStatement(sql: "DELETE FROM message_body WHERE NOT EXISTS (SELECT 1 FROM message WHERE body_id = message_body.id)").execute()
            try db.cachedStatement(sql: "DELETE FROM alias WHERE target = ?").execute(arguments: [account.address])
        }
    }

    public func listUsers() async throws(DirectoryError) -> [Account] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM account ORDER BY address")).map(Self.account(row:))
        }
    }

    public func addAlias(_ source: String, targets: [String]) async throws(DirectoryError) {
        let src: String
        if DirectoryAddress.isCatchAll(source) {
            let domain = String(source.dropFirst()).lowercased()
            guard DirectoryAddress.isValidDomain(domain) else { throw .invalidDomain(domain) }
            src = "@" + domain
        } else {
            src = try DirectoryAddress.canonical(source)
        }
        guard !targets.isEmpty else { throw .invalidAddress(source, reason: "an alias needs at least one target") }
        let dsts = try targets.map { (t: String) throws(DirectoryError) -> String in try DirectoryAddress.canonical(t) }
        try await write { db in
            let domain = src.hasPrefix("@") ? String(src.dropFirst()) : DirectoryAddress.split(src)!.domain
            guard try Self.domainID(db, domain) != nil else { throw DirectoryError.unknownDomain(domain) }
            var added = 0
            for target in dsts {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO alias (source, target) VALUES (?, ?)").execute(arguments: [src, target])
                added += db.changesCount
            }
            guard added > 0 else { throw DirectoryError.aliasExists(src) }
        }
    }

    public func removeAlias(_ source: String) async throws(DirectoryError) {
        try await write { db in
            try db.cachedStatement(sql: "DELETE FROM alias WHERE source = ?").execute(arguments: [source])
            guard db.changesCount > 0 else { throw DirectoryError.unknownAlias(source) }
        }
    }

    public func listAliases() async throws(DirectoryError) -> [AliasEntry] {
        try await read { db in
            var entries: [AliasEntry] = []
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT source, target FROM alias ORDER BY source, target")) {
                let source: String = row["source"], target: String = row["target"]
                if let last = entries.last, last.source == source {
                    entries[entries.count - 1] = AliasEntry(source: source, targets: last.targets + [target])
                } else {
                    entries.append(AliasEntry(source: source, targets: [target]))
                }
            }
            return entries
        }
    }

    // MARK: Rows

    static func domainID(_ db: Database, _ domain: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM domain WHERE name = ?"), arguments: [domain.lowercased()])
    }

    static func account(_ db: Database, address: String) throws -> Account? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM account WHERE address = ?"), arguments: [address]).map(account(row:))
    }

    static func account(row: Row) -> Account {
        Account(id: UserID(row["id"]), address: row["address"], passwordHash: row["password_hash"],
                scram: row["scram"], quotaBytes: row["quota_bytes"], maxMessages: row["max_messages"])
    }

    static func escapeLike(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
