import Foundation
import GRDB
import MailAuth
import MailStore
@testable import MailStoreSQLite
import Testing

/// A database written by an earlier release opens with the later migrations applied and reads
/// back its messages unchanged.
@Suite("SQLite schema migrations")
struct SchemaMigrationTests {
    @Test func aVersion1MessageKeepsItsBytesAfterThePrefixMigration() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-v1-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("swallow.sqlite").path
        let bytes = Array("Return-Path: <a@b.test>\r\nSubject: old\r\n\r\nbody\r\n".utf8)
        do {
            let old = try DatabaseQueue(path: path)
            try Schema.migrator.migrate(old, upTo: "v1")
            try await old.write { db in
                try db.execute(sql: """
                    INSERT INTO domain (id, name, created_at) VALUES (1, 'example.test', 0);
                    INSERT INTO account (id, address, domain_id, password_hash, created_at) VALUES (1, 'alice@example.test', 1, 'x', 0);
                    INSERT INTO mailbox (id, account_id, name, uidvalidity, uidnext) VALUES (1, 1, 'INBOX', 1, 2);
                    """)
                try db.execute(sql: "INSERT INTO message_body (id, bytes) VALUES (1, ?)", arguments: [Data(bytes)])
                try db.execute(sql: """
                    INSERT INTO message (mailbox_id, uid, modseq, flags, internal_date, internal_zone, size, body_id)
                    VALUES (1, 1, 1, 0, 0, 0, ?, 1)
                    """, arguments: [bytes.count])
            }
        }
        let store = SQLiteMailStore(try SQLiteDatabase(path: path))
        #expect(try await store.messageBytes(in: MailboxID(1), uid: 1) == bytes)
        #expect(try await store.allMessages(in: MailboxID(1)).map(\.size) == [bytes.count])
    }
}
