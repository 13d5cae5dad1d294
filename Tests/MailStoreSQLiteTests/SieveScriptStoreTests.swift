import MailAuth
import MailStore
import MailStoreSQLite
import Testing

@Suite("SQLite Sieve scripts and vacation memory")
struct SieveScriptStoreTests {
    @Test func scriptsOneActiveRenameAndDelete() async throws {
        let db = try TemporaryDatabase()
        defer { db.remove() }
        let directory = SQLiteDirectory(db.database)
        try await directory.addDomain("example.test")
        let bob = try await directory.addUser("bob@example.test", passwordHash: "$y$x", scram: nil, quotaBytes: 0).id
        let store = SQLiteMailStore(db.database)

        #expect(try await store.activeSieveScript(bob) == nil)
        try await store.putSieveScript(bob, named: "a", source: "keep;")
        try await store.putSieveScript(bob, named: "b", source: "discard;")
        try await store.activateSieveScript(bob, named: "a")
        try await store.activateSieveScript(bob, named: "b")
        #expect(try await store.sieveScripts(bob) == [SieveScriptInfo(name: "a", active: false, size: 5),
                                                       SieveScriptInfo(name: "b", active: true, size: 8)])
        #expect(try await store.activeSieveScript(bob)?.source == "discard;")
        // Replacing the active script keeps it active (RFC 5804 §2.6 PUTSCRIPT).
        try await store.putSieveScript(bob, named: "b", source: "stop;")
        #expect(try await store.activeSieveScript(bob)?.name == "b")
        // The active script cannot go; a taken name cannot be renamed to.
        await #expect(throws: StoreError.notPermitted("b is the active script")) { try await store.deleteSieveScript(bob, named: "b") }
        await #expect(throws: StoreError.exists("b")) { try await store.renameSieveScript(bob, from: "a", to: "b") }
        await #expect(throws: StoreError.notFound("zz")) { try await store.activateSieveScript(bob, named: "zz") }
        try await store.activateSieveScript(bob, named: nil)
        #expect(try await store.activeSieveScript(bob) == nil)
        try await store.renameSieveScript(bob, from: "b", to: "c")
        try await store.deleteSieveScript(bob, named: "c")
        #expect(try await store.sieveScripts(bob).map(\.name) == ["a"])
        await #expect(throws: StoreError.self) { try await store.putSieveScript(bob, named: "", source: "keep;") }
    }

    @Test func vacationAnswersEachSenderOncePerPeriod() async throws {
        let db = try TemporaryDatabase()
        defer { db.remove() }
        let directory = SQLiteDirectory(db.database)
        try await directory.addDomain("example.test")
        let bob = try await directory.addUser("bob@example.test", passwordHash: "$y$x", scram: nil, quotaBytes: 0).id
        let store = SQLiteMailStore(db.database)
        #expect(try await store.claimVacationReply(bob, handle: "h", sender: "a@example.org", period: 3600))
        #expect(!(try await store.claimVacationReply(bob, handle: "h", sender: "a@example.org", period: 3600)))
        #expect(try await store.claimVacationReply(bob, handle: "h", sender: "c@example.org", period: 3600))
        #expect(try await store.claimVacationReply(bob, handle: "other", sender: "a@example.org", period: 3600))
        // A period of 0 (vacation-seconds) answers every time.
        #expect(try await store.claimVacationReply(bob, handle: "z", sender: "a@example.org", period: 0))
        #expect(try await store.claimVacationReply(bob, handle: "z", sender: "a@example.org", period: 0))
    }
}
