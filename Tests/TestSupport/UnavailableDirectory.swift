import MailAuth

/// A directory whose database is down: every lookup fails.
public struct UnavailableDirectory: UserDirectory {
    public init() {}
    public func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool { throw .temporary("database is down") }
    public func listDomains() async throws(DirectoryError) -> [String] { throw .temporary("database is down") }
    public func account(login: String) async throws(DirectoryError) -> Account? { throw .temporary("database is down") }
    public func account(id: UserID) async throws(DirectoryError) -> Account? { throw .temporary("database is down") }
    public func resolve(recipient address: String) async throws(DirectoryError) -> RecipientResolution { throw .temporary("database is down") }
    public func mayUseSender(_ sender: String, account: Account) async throws(DirectoryError) -> Bool { throw .temporary("database is down") }
}
