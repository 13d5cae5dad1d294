import Foundation
import GRDB
import MailStore
import MailStoreConformance
@testable import MailStoreSQLite
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
        let database = self.database
        return ConformanceFixture(store: SQLiteMailStore(database), directory: SQLiteDirectory(database)) {
            try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM message_body") ?? 0 }
        }
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
