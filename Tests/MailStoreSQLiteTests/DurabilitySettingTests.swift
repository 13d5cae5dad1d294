import Foundation
import MailQueue
import MailStoreSQLite
import Testing

/// DESIGN.md §4: acknowledged mail is committed with the WAL fsync'd. GRDB's pool sets its
/// writer to `synchronous = NORMAL` when it turns WAL on, after our own setup ran; these read
/// the setting back from the connection that commits (2 = FULL). The power-loss interop test
/// (tests/interop/test_power_loss.py) shows what NORMAL costs.
@Suite("Durable SQLite settings")
struct DurabilitySettingTests {
    @Test func mailStoreWriterCommitsWithSynchronousFull() throws {
        let db = try TemporaryDatabase()
        defer { db.remove() }
        #expect(try db.database.synchronousLevel() == 2)
    }

    @Test func outboundQueueWriterCommitsWithSynchronousFull() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let queue = try OutboundQueue(path: dir.appendingPathComponent("queue.sqlite").path)
        #expect(try queue.synchronousLevel() == 2)
    }

    @Test func databaseFilesAreOwnerOnlyAndSymlinksRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-sym-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("elsewhere").path
        FileManager.default.createFile(atPath: target, contents: Data())
        let link = dir.appendingPathComponent("queue.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(throws: (any Error).self) { _ = try OutboundQueue(path: link) }
        let real = dir.appendingPathComponent("real.sqlite").path
        _ = try OutboundQueue(path: real)
        let mode = try FileManager.default.attributesOfItem(atPath: real)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
