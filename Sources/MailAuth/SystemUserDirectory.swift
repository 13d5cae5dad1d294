/// The SQL directory, plus the operating system's accounts (`[auth] system_users = true`).
///
/// A system user `name` receives mail at `name@` the server's host name and at `name@` every
/// local domain where the SQL directory has no account, alias or catch-all for it, and logs in
/// as `name` or any of those addresses, with the password `passwd` set (checked against
/// `/etc/shadow` on every login). Its mailboxes, quota and Sieve scripts need an account id, so
/// the first use records an account `name@hostname` in the SQL directory whose stored hash is a
/// marker that verifies nothing: the system's hash is the only one that counts, and a user
/// removed with `userdel` can no longer log in or receive mail.
public struct SystemUserDirectory: DirectoryAdministration {
    /// The stored hash of a system user's SQL record: not a crypt(3) string, so it never verifies.
    public static let passwordMarker = "{SYSTEM}"

    let base: any DirectoryAdministration
    let table: SystemUserTable
    /// Lowercased: the domain of system users' own addresses.
    let hostname: String

    public init(base: any DirectoryAdministration, table: SystemUserTable, hostname: String) {
        self.base = base
        self.table = table
        self.hostname = hostname.lowercased()
    }

    // MARK: UserDirectory

    public func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        if domain.lowercased() == hostname { return true }
        return try await base.isLocalDomain(domain)
    }

    public func listDomains() async throws(DirectoryError) -> [String] {
        let domains = try await base.listDomains()
        return domains.contains(hostname) ? domains : (domains + [hostname]).sorted()
    }

    public func account(login: String) async throws(DirectoryError) -> Account? {
        if let account = try await base.account(login: login) { return live(account) }
        // "name", or "name@" the host name or a local domain.
        let name: String
        if let (local, domain) = DirectoryAddress.split(login) {
            guard try await isLocalDomain(domain) else { return nil }
            name = local
        } else {
            name = login
        }
        return try await systemAccount(name)
    }

    public func account(id: UserID) async throws(DirectoryError) -> Account? {
        try await base.account(id: id).flatMap(live)
    }

    public func resolve(recipient address: String) async throws(DirectoryError) -> RecipientResolution {
        let resolution = try await base.resolve(recipient: address)
        switch resolution {
        case .deliver(let accounts, let forward):
            // A system user removed since its record was made receives nothing.
            let current = accounts.compactMap(live)
            return current.isEmpty && forward.isEmpty ? .unknownUser : .deliver(accounts: current, forward: forward)
        case .unknownUser, .notLocal:
            guard let (local, domain) = DirectoryAddress.split(address),
                  resolution == .unknownUser || domain == hostname else { return resolution }
            let name = DirectoryAddress.strippingSubaddress(local) ?? local
            guard let account = try await systemAccount(name) else { return .unknownUser }
            return .deliver(accounts: [account], forward: [])
        }
    }

    public func mayUseSender(_ sender: String, account: Account) async throws(DirectoryError) -> Bool {
        if try await base.mayUseSender(sender, account: account) { return true }
        // A system user may send as name@ any local domain.
        guard let (mine, _) = DirectoryAddress.split(account.address),
              account.address.lowercased().hasSuffix("@" + hostname),
              let (local, domain) = DirectoryAddress.split(sender), try await isLocalDomain(domain) else { return false }
        return (DirectoryAddress.strippingSubaddress(local) ?? local) == mine
            && table.user(named: mine) != nil
    }

    /// A SQL account as it is now: a system user's record gets the system's current hash;
    /// nil when that user no longer exists.
    func live(_ account: Account) -> Account? {
        guard account.passwordHash == Self.passwordMarker else { return account }
        guard let (name, _) = DirectoryAddress.split(account.address), let user = table.user(named: name) else { return nil }
        return Account(id: account.id, address: account.address, passwordHash: user.hash ?? "!", scram: nil,
                       quotaBytes: account.quotaBytes, maxMessages: account.maxMessages)
    }

    /// The account of system user `name`, its SQL record made on first use.
    func systemAccount(_ name: String) async throws(DirectoryError) -> Account? {
        guard table.user(named: name) != nil else { return nil }
        let address = "\(name)@\(hostname)"
        if let existing = try await base.account(login: address) {
            // An SQL account of that name was made by an administrator: it is that one.
            return live(existing)
        }
        if try await !base.isLocalDomain(hostname) {
            do { try await base.addDomain(hostname) } catch { if case .domainExists = error {} else { throw error } }
        }
        do {
            return live(try await base.addUser(address, passwordHash: Self.passwordMarker, scram: nil, quotaBytes: 0, maxMessages: 0))
        } catch {
            // Two first logins at once: the other one made the record.
            guard case .userExists = error, let made = try await base.account(login: address) else { throw error }
            return live(made)
        }
    }

    // MARK: DirectoryAdministration (the SQL directory's)

    public func addDomain(_ domain: String) async throws(DirectoryError) { try await base.addDomain(domain) }
    public func removeDomain(_ domain: String) async throws(DirectoryError) { try await base.removeDomain(domain) }
    public func addUser(_ address: String, passwordHash: String, scram: String?, quotaBytes: Int64,
                        maxMessages: Int64) async throws(DirectoryError) -> Account {
        try await base.addUser(address, passwordHash: passwordHash, scram: scram, quotaBytes: quotaBytes, maxMessages: maxMessages)
    }
    public func setPassword(_ address: String, passwordHash: String, scram: String?) async throws(DirectoryError) {
        try await base.setPassword(address, passwordHash: passwordHash, scram: scram)
    }
    public func setQuota(_ address: String, quotaBytes: Int64?, maxMessages: Int64?) async throws(DirectoryError) {
        try await base.setQuota(address, quotaBytes: quotaBytes, maxMessages: maxMessages)
    }
    public func removeUser(_ address: String) async throws(DirectoryError) { try await base.removeUser(address) }
    public func listUsers() async throws(DirectoryError) -> [Account] { try await base.listUsers() }
    public func addAlias(_ source: String, targets: [String]) async throws(DirectoryError) {
        try await base.addAlias(source, targets: targets)
    }
    public func removeAlias(_ source: String) async throws(DirectoryError) { try await base.removeAlias(source) }
    public func listAliases() async throws(DirectoryError) -> [AliasEntry] { try await base.listAliases() }
}
