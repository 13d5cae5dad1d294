import MailAuth
import MailStore

/// The conformance suite every `MailStore` backend must pass (SQLite now, PostgreSQL later).
///
/// It is a plain library (no test framework): each case throws `ConformanceFailure` with what
/// went wrong, and a backend's test target runs every case as one parameterised test.
public struct ConformanceFixture: Sendable {
    public let store: any MailStore
    public let directory: any DirectoryAdministration
    /// How many message bodies the backend holds, when its test can look (copies share one).
    public let storedBodyCount: (@Sendable () async throws -> Int)?

    public init(store: any MailStore, directory: any DirectoryAdministration,
                storedBodyCount: (@Sendable () async throws -> Int)? = nil) {
        self.store = store
        self.directory = directory
        self.storedBodyCount = storedBodyCount
    }

    /// A fresh account with its default mailboxes.
    public func account(_ address: String, quota: Int64 = 0, maxMessages: Int64 = 0) async throws -> Account {
        let domain = DirectoryAddress.split(address)!.domain
        if try await !directory.isLocalDomain(domain) { try await directory.addDomain(domain) }
        let account = try await directory.addUser(address, passwordHash: "$y$placeholder", scram: nil, quotaBytes: quota,
                                                  maxMessages: maxMessages)
        try await store.prepareAccount(account.id)
        return account
    }
}

public struct ConformanceFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public struct ConformanceCase: Sendable, CustomStringConvertible {
    public let name: String
    public let run: @Sendable (ConformanceFixture) async throws -> Void
    public var description: String { name }
}

func check(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
    if !condition { throw ConformanceFailure("line \(line): \(message())") }
}

func checkEqual<T: Equatable>(_ a: T, _ b: T, _ what: String, line: Int = #line) throws {
    if a != b { throw ConformanceFailure("line \(line): \(what): \(a) != \(b)") }
}

/// Runs `body` and checks that it throws a `StoreError` that `matches` accepts.
func checkThrows<T>(_ what: String, line: Int = #line, _ matches: (StoreError) -> Bool,
                    _ body: () async throws -> T) async throws {
    let outcome: StoreError?
    do {
        _ = try await body()
        outcome = nil
    } catch let error as StoreError {
        outcome = error
    }
    guard let outcome else { throw ConformanceFailure("line \(line): \(what): expected an error, got success") }
    if !matches(outcome) { throw ConformanceFailure("line \(line): \(what): unexpected error \(outcome)") }
}

func message(_ text: String, flags: MessageFlags = .none, seconds: Int64 = 1_764_417_600) -> NewMessage {
    NewMessage(bytes: Array(text.utf8), flags: flags, internalDate: InternalDate(seconds: seconds, zoneMinutes: 60))
}

public enum MailStoreConformance {
    public static var cases: [ConformanceCase] {
        MailboxCases.all + MessageCases.all + SharedBodyCases.all + AcceptanceCases.all + FlagCases.all + TransferCases.all + AccountingCases.all
    }
}
