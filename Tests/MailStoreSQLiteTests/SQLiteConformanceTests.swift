import Foundation
import MailStore
import MailStoreConformance
import MailStoreSQLite
import Testing

/// A fresh database file per test, removed afterwards.
struct TemporaryDatabase {
    let directory: URL
    let database: SQLiteDatabase

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        database = try SQLiteDatabase(path: directory.appendingPathComponent("test.sqlite").path)
    }

    var fixture: ConformanceFixture {
        ConformanceFixture(store: SQLiteMailStore(database), directory: SQLiteDirectory(database))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite("SQLite MailStore conformance")
struct SQLiteConformanceTests {
    @Test(arguments: MailStoreConformance.cases)
    func conformance(_ testCase: ConformanceCase) async throws {
        let db = try TemporaryDatabase()
        defer { db.remove() }
        try await testCase.run(db.fixture)
    }
}
