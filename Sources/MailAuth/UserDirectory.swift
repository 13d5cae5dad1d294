/// The user directory: local domains, accounts and aliases (DESIGN.md §1 "user directory").
///
/// Protocol servers ask it two questions: "who is this login?" (authentication) and "where does
/// mail for this address go?" (RCPT time). Administration (the CLI, the admin API) changes it
/// through `DirectoryAdministration`. Every backend (SQLite, PostgreSQL) answers from the shared
/// database on each call, so a change made by `swallow user add` takes effect at once in a
/// running server.

/// An account's stable identity in the database.
public struct UserID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static func < (a: UserID, b: UserID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// One mail account. `address` is the login name and the canonical mailbox address.
public struct Account: Sendable, Hashable {
    public let id: UserID
    /// `local@domain`, the domain lowercased.
    public let address: String
    /// crypt(3) string (`$y$...`) or a Dovecot-style `{SCHEME}` string; never a clear password.
    public let passwordHash: String
    /// SCRAM-SHA-256 keys in `SCRAMCredentials.storageString` form, when a password was set here.
    public let scram: String?
    /// Storage limit in bytes; 0 means unlimited.
    public let quotaBytes: Int64
    /// Limit on the number of messages in all mailboxes; 0 means unlimited.
    public let maxMessages: Int64

    public init(id: UserID, address: String, passwordHash: String, scram: String?, quotaBytes: Int64, maxMessages: Int64 = 0) {
        self.id = id
        self.address = address
        self.passwordHash = passwordHash
        self.scram = scram
        self.quotaBytes = quotaBytes
        self.maxMessages = maxMessages
    }

    /// Whether any quota resource is limited (RFC 9208: the account has a quota root).
    public var hasQuota: Bool { quotaBytes > 0 || maxMessages > 0 }
}

/// An alias source: one address, or a whole domain (`@domain`, the catch-all).
public struct AliasEntry: Sendable, Hashable {
    public let source: String
    public let targets: [String]
    public init(source: String, targets: [String]) {
        self.source = source
        self.targets = targets
    }
}

/// Where mail for one envelope recipient goes.
public enum RecipientResolution: Sendable, Equatable {
    /// The domain is not one of ours: relay policy decides.
    case notLocal
    /// The domain is ours but no user, alias or catch-all matches: `550 5.1.1` at RCPT time.
    case unknownUser
    /// Deliver one copy to each of these accounts (deduplicated) and forward to these remote
    /// addresses (an alias may point outside).
    case deliver(accounts: [Account], forward: [String])
}

public enum DirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidAddress(String, reason: String)
    case invalidDomain(String)
    case unknownDomain(String)
    case domainExists(String)
    case domainInUse(String, accounts: Int)
    case userExists(String)
    case unknownUser(String)
    case aliasExists(String)
    case unknownAlias(String)
    case aliasLoop(String)
    case temporary(String)

    public var description: String {
        switch self {
        case .invalidAddress(let a, let why): "invalid address '\(a)': \(why)"
        case .invalidDomain(let d): "invalid domain name '\(d)'"
        case .unknownDomain(let d): "domain '\(d)' is not a local domain (add it with 'swallow domain add \(d)')"
        case .domainExists(let d): "domain '\(d)' already exists"
        case .domainInUse(let d, let n): "domain '\(d)' still has \(n) account(s); remove them first"
        case .userExists(let u): "user '\(u)' already exists"
        case .unknownUser(let u): "no such user '\(u)'"
        case .aliasExists(let a): "alias '\(a)' already has that target"
        case .unknownAlias(let a): "no such alias '\(a)'"
        case .aliasLoop(let a): "alias '\(a)' expands too deeply (a loop?)"
        case .temporary(let why): "temporary directory failure: \(why)"
        }
    }
}

/// Read side, used by every protocol server.
public protocol UserDirectory: Sendable {
    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool
    /// Every local domain, sorted.
    func listDomains() async throws(DirectoryError) -> [String]
    /// The account whose login (address) this is; case-insensitive.
    func account(login: String) async throws(DirectoryError) -> Account?
    func account(id: UserID) async throws(DirectoryError) -> Account?
    /// Aliases, catch-all and sub-addressing applied (`user+tag@domain` reaches `user`).
    func resolve(recipient address: String) async throws(DirectoryError) -> RecipientResolution
    /// Whether `account` may use `sender` as its envelope sender: its own address (with any
    /// `+tag`) or an alias that points to it.
    func mayUseSender(_ sender: String, account: Account) async throws(DirectoryError) -> Bool
}

/// Write side, used by the CLI and the admin API.
public protocol DirectoryAdministration: UserDirectory {
    func addDomain(_ domain: String) async throws(DirectoryError)
    func removeDomain(_ domain: String) async throws(DirectoryError)
    @discardableResult
    func addUser(_ address: String, passwordHash: String, scram: String?, quotaBytes: Int64, maxMessages: Int64) async throws(DirectoryError) -> Account
    func setPassword(_ address: String, passwordHash: String, scram: String?) async throws(DirectoryError)
    /// Sets the limits given (nil leaves one as it is); 0 is unlimited.
    func setQuota(_ address: String, quotaBytes: Int64?, maxMessages: Int64?) async throws(DirectoryError)
    func removeUser(_ address: String) async throws(DirectoryError)
    func listUsers() async throws(DirectoryError) -> [Account]
    func addAlias(_ source: String, targets: [String]) async throws(DirectoryError)
    /// Removes every target of `source`.
    func removeAlias(_ source: String) async throws(DirectoryError)
    func listAliases() async throws(DirectoryError) -> [AliasEntry]
}

extension DirectoryAdministration {
    @discardableResult
    public func addUser(_ address: String, passwordHash: String, scram: String?, quotaBytes: Int64) async throws(DirectoryError) -> Account {
        try await addUser(address, passwordHash: passwordHash, scram: scram, quotaBytes: quotaBytes, maxMessages: 0)
    }

    public func setQuota(_ address: String, quotaBytes: Int64) async throws(DirectoryError) {
        try await setQuota(address, quotaBytes: quotaBytes, maxMessages: nil)
    }
}

extension PasswordHash {
    /// A stand-in hash verified when the login names no account, so that the time an answer
    /// takes does not tell which accounts exist.
    static let timingEqualiser = (try? PasswordHash.make("swallow-timing-equaliser")) ?? "*"

    /// Whether `password` is `account`'s; false for no account, after the same work.
    public static func verify(_ password: String, account: Account?) -> Bool {
        let ok = verify(password, against: account?.passwordHash ?? timingEqualiser)
        return ok && account != nil
    }
}

/// Address rules shared by every directory backend.
public enum DirectoryAddress {
    /// RFC 5233-style sub-addressing separator, as Postfix's `recipient_delimiter = +`.
    public static let subaddressSeparator: Character = "+"
    /// How deep alias chains may go before we call it a loop (Postfix's default is also small).
    public static let maxAliasDepth = 10
    /// Longest address we accept (RFC 5321 §4.5.3.1.3: path 256 octets including the brackets).
    public static let maxAddressLength = 254

    /// Splits `local@domain` at the last `@` and lowercases the domain. Does not validate the
    /// local part's grammar: SMTP and the CLI parse addresses before they get here.
    public static func split(_ address: String) -> (local: String, domain: String)? {
        guard let at = address.lastIndex(of: "@") else { return nil }
        let local = String(address[..<at])
        let domain = String(address[address.index(after: at)...]).lowercased()
        guard !domain.isEmpty else { return nil }
        return (local, domain)
    }

    /// `local@domain` with the domain lowercased, or a thrown reason.
    public static func canonical(_ address: String) throws(DirectoryError) -> String {
        let trimmed = address.trimmingWhitespace()
        guard trimmed.utf8.count <= maxAddressLength else {
            throw .invalidAddress(address, reason: "longer than \(maxAddressLength) octets")
        }
        guard let (local, domain) = split(trimmed), !local.isEmpty else {
            throw .invalidAddress(address, reason: "expected local@domain")
        }
        guard local.utf8.count <= 64 else { throw .invalidAddress(address, reason: "local part longer than 64 octets") }
        guard !local.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "@" || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) else {
            throw .invalidAddress(address, reason: "local part contains a character that needs quoting")
        }
        guard isValidDomain(domain) else { throw .invalidAddress(address, reason: "bad domain '\(domain)'") }
        return "\(local)@\(domain)"
    }

    /// A catch-all source is `@domain`.
    public static func isCatchAll(_ source: String) -> Bool { source.hasPrefix("@") }

    /// `user+tag` -> `user`; nil when there is no tag.
    public static func strippingSubaddress(_ local: String) -> String? {
        guard let plus = local.firstIndex(of: subaddressSeparator), plus != local.startIndex else { return nil }
        return String(local[..<plus])
    }

    /// RFC 1035 §2.3.1 labels (letters, digits, hyphens; UTF-8 letters allowed for IDN in
    /// SMTPUTF8 deployments), at most 253 octets, at least one label.
    public static func isValidDomain(_ domain: String) -> Bool {
        guard !domain.isEmpty, domain.utf8.count <= 253 else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63, label.first != "-", label.last != "-" else { return false }
            for scalar in label.unicodeScalars {
                let ok = scalar == "-" || (scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)))
                    || (!scalar.isASCII && scalar.properties.isAlphabetic)
                guard ok else { return false }
            }
        }
        return true
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
