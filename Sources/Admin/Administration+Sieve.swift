import MailAuth
import MailStore
import Sieve

/// Users' Sieve scripts (RFC 5228), for `swallow sieve` and the admin API; ManageSieve
/// (RFC 5804) checks scripts with the same `SieveScript(parsing:)`.
extension Administration {
    private func sieve(_ address: String) async throws -> (any SieveScriptStore, Account) {
        guard let scripts = store as? any SieveScriptStore else { throw AdminError.badRequest("this store keeps no Sieve scripts") }
        guard let account = try await directory.account(login: address) else { throw DirectoryError.unknownUser(address) }
        return (scripts, account)
    }

    public func sieveScripts(_ address: String) async throws -> [SieveScriptInfo] {
        let (scripts, account) = try await sieve(address)
        return try await scripts.sieveScripts(account.id)
    }

    public func sieveScript(_ address: String, named name: String) async throws -> String {
        let (scripts, account) = try await sieve(address)
        do {
            return try await scripts.sieveScript(account.id, named: name)
        } catch {
            throw Self.mapped(error, address: address, name: name)
        }
    }

    /// Refuses a script that does not parse, naming the line and column.
    public func putSieveScript(_ address: String, named name: String, source: String, activate: Bool = false) async throws {
        let (scripts, account) = try await sieve(address)
        do {
            _ = try SieveScript(parsing: source)
        } catch {
            throw AdminError.badRequest("\(name): \(error)")
        }
        try await scripts.putSieveScript(account.id, named: name, source: source)
        if activate { try await scripts.activateSieveScript(account.id, named: name) }
    }

    /// nil: no script active (mail is kept in INBOX).
    public func activateSieveScript(_ address: String, named name: String?) async throws {
        let (scripts, account) = try await sieve(address)
        do {
            try await scripts.activateSieveScript(account.id, named: name)
        } catch {
            throw Self.mapped(error, address: address, name: name ?? "")
        }
    }

    public func deleteSieveScript(_ address: String, named name: String) async throws {
        let (scripts, account) = try await sieve(address)
        do {
            try await scripts.deleteSieveScript(account.id, named: name)
        } catch {
            throw Self.mapped(error, address: address, name: name)
        }
    }

    private static func mapped(_ error: StoreError, address: String, name: String) -> any Error {
        switch error {
        case .notFound: AdminError.notFound("\(address) has no script named \(name)")
        case .notPermitted: AdminError.conflict("\(name) is the active script: deactivate it first")
        default: error
        }
    }
}
