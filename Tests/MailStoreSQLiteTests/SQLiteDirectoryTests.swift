import MailAuth
import MailStoreSQLite
import Testing

@Suite("SQLite user directory")
struct SQLiteDirectoryTests {
    /// A directory with example.test, alice and bob.
    func withDirectory(_ body: (SQLiteDirectory) async throws -> Void) async throws {
        let db = try TemporaryDatabase()
        defer { db.remove() }
        let directory = SQLiteDirectory(db.database)
        try await directory.addDomain("Example.TEST")
        try await directory.addUser("alice@example.test", passwordHash: "$y$x", scram: nil, quotaBytes: 0)
        try await directory.addUser("bob@example.test", passwordHash: "$y$x", scram: nil, quotaBytes: 0)
        try await body(directory)
    }

    func accounts(_ r: RecipientResolution) -> [String] {
        if case .deliver(let accounts, _) = r { return accounts.map(\.address) }
        return []
    }

    @Test func domainsAreCaseInsensitiveAndValidated() async throws {
        try await withDirectory { (d: SQLiteDirectory) async throws in
            #expect(try await d.listDomains() == ["example.test"])
            #expect(try await d.isLocalDomain("EXAMPLE.test"))
            await #expect(throws: DirectoryError.domainExists("example.test")) { try await d.addDomain("example.TEST") }
            for bad in ["", "-a.test", "a..test", "a test", "a_b.test", String(repeating: "a", count: 64) + ".test"] {
                await #expect(throws: DirectoryError.self) { try await d.addDomain(bad) }
            }
            await #expect(throws: DirectoryError.domainInUse("example.test", accounts: 2)) { try await d.removeDomain("example.test") }
            await #expect(throws: DirectoryError.unknownDomain("nope.test")) { try await d.removeDomain("nope.test") }
        }
    }

    @Test func usersAreUniqueCaseInsensitiveAndNeedALocalDomain() async throws {
        try await withDirectory { (d: SQLiteDirectory) async throws in
            await #expect(throws: DirectoryError.userExists("ALICE@example.test")) {
                try await d.addUser("ALICE@Example.Test", passwordHash: "$y$x", scram: nil, quotaBytes: 0)
            }
            await #expect(throws: DirectoryError.unknownDomain("other.test")) {
                try await d.addUser("carol@other.test", passwordHash: "$y$x", scram: nil, quotaBytes: 0)
            }
            for bad in ["nodomain", "@example.test", "a b@example.test", "a@", "x@bad_domain"] {
                await #expect(throws: DirectoryError.self) { try await d.addUser(bad, passwordHash: "$y$x", scram: nil, quotaBytes: 0) }
            }
            #expect(try await d.account(login: "Alice@EXAMPLE.test")?.address == "alice@example.test")
            #expect(try await d.listUsers().map(\.address) == ["alice@example.test", "bob@example.test"])
            try await d.setPassword("alice@example.test", passwordHash: "$6$new", scram: "{SCRAM-SHA-256}x")
            #expect(try await d.account(login: "alice@example.test")?.passwordHash == "$6$new")
            await #expect(throws: DirectoryError.unknownUser("zed@example.test")) {
                try await d.setPassword("zed@example.test", passwordHash: "$6$", scram: nil)
            }
            try await d.removeUser("bob@example.test")
            #expect(try await d.account(login: "bob@example.test") == nil)
        }
    }

    @Test func resolutionAppliesSubaddressingAliasesAndCatchAll() async throws {
        try await withDirectory { (d: SQLiteDirectory) async throws in
            #expect(try await d.resolve(recipient: "someone@elsewhere.test") == .notLocal)
            #expect(try await d.resolve(recipient: "nobody@example.test") == .unknownUser)
            #expect(accounts(try await d.resolve(recipient: "ALICE@example.test")) == ["alice@example.test"])
            #expect(accounts(try await d.resolve(recipient: "alice+lists@example.test")) == ["alice@example.test"])

            try await d.addAlias("team@example.test", targets: ["alice@example.test", "bob@example.test", "carol@remote.test"])
            guard case .deliver(let team, let forward) = try await d.resolve(recipient: "team@example.test") else {
                Issue.record("team did not resolve")
                return
            }
            #expect(team.map(\.address) == ["alice@example.test", "bob@example.test"])
            #expect(forward == ["carol@remote.test"])

            // An alias pointing at an alias, and at a user twice: one copy each.
            try await d.addAlias("all@example.test", targets: ["team@example.test", "alice@example.test"])
            #expect(accounts(try await d.resolve(recipient: "all@example.test")) == ["alice@example.test", "bob@example.test"])

            try await d.addAlias("@example.test", targets: ["bob@example.test"])
            #expect(accounts(try await d.resolve(recipient: "anything@example.test")) == ["bob@example.test"])
            #expect(accounts(try await d.resolve(recipient: "alice@example.test")) == ["alice@example.test"], "catch-all only when nothing matches")

            #expect(try await d.listAliases().map(\.source) == ["@example.test", "all@example.test", "team@example.test"])
            try await d.removeAlias("@example.test")
            #expect(try await d.resolve(recipient: "anything@example.test") == .unknownUser)
            await #expect(throws: DirectoryError.unknownAlias("@example.test")) { try await d.removeAlias("@example.test") }
        }
    }

    @Test func aliasLoopsAreBounded() async throws {
        try await withDirectory { (d: SQLiteDirectory) async throws in
            try await d.addAlias("a@example.test", targets: ["b@example.test"])
            try await d.addAlias("b@example.test", targets: ["a@example.test", "alice@example.test"])
            #expect(accounts(try await d.resolve(recipient: "a@example.test")) == ["alice@example.test"])
            var chain: [String] = (0...12).map { "c\($0)@example.test" }
            for (from, to) in zip(chain, chain.dropFirst()) { try await d.addAlias(from, targets: [to]) }
            chain.removeAll()
            await #expect(throws: DirectoryError.aliasLoop("c11@example.test")) { try await d.resolve(recipient: "c0@example.test") }
        }
    }

    @Test func sendersAUserMayUse() async throws {
        try await withDirectory { (d: SQLiteDirectory) async throws in
            let alice = try #require(try await d.account(login: "alice@example.test"))
            try await d.addAlias("sales@example.test", targets: ["alice@example.test"])
            try await d.addAlias("@example.test", targets: ["alice@example.test"])
            #expect(try await d.mayUseSender("alice@example.test", account: alice))
            #expect(try await d.mayUseSender("Alice+tag@EXAMPLE.test", account: alice))
            #expect(try await d.mayUseSender("sales@example.test", account: alice))
            #expect(try await !d.mayUseSender("bob@example.test", account: alice))
            #expect(try await !d.mayUseSender("random@example.test", account: alice), "a catch-all is not a sender identity")
            #expect(try await !d.mayUseSender("alice@other.test", account: alice))
        }
    }
}
