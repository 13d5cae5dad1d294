import Foundation
@testable import MailQueue
import Testing

/// The queue's own operations: what is due, hold/release/flush, batched records, and that no
/// per-message statement scans the whole queue.
@Suite("Outbound queue")
struct OutboundQueueTests {
    func withQueue(_ body: (OutboundQueue) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await body(try OutboundQueue(path: dir.appendingPathComponent("queue.sqlite").path))
    }

    func message(_ recipients: [String], due: Date) -> QueuedMessage {
        QueuedMessage(id: QueueID.make(), sender: "s@example.test",
                      recipients: recipients.map { QueuedMessage.Recipient(address: $0, nextAttempt: due) },
                      bytes: Array("Subject: t\r\n\r\nbody\r\n".utf8))
    }

    /// A 100,000-message deferred queue made every record O(queue) when SQLite chose the
    /// (state, next_attempt) index, which covers message_id in a WITHOUT ROWID table.
    @Test func perMessageStatementsUseThePrimaryKey() async throws {
        try await withQueue { queue in
            let plans = try queue.queryPlans()
            #expect(plans.count == 2)
            for (name, plan) in plans {
                #expect(plan.contains("PRIMARY KEY"), "\(name): \(plan)")
                #expect(!plan.contains("queue_recipient_due"), "\(name): \(plan)")
            }
        }
    }

    @Test func dueHoldReleaseAndFlush() async throws {
        try await withQueue { queue in
            let now = Date()
            let due = message(["a@one.test"], due: now.addingTimeInterval(-1))
            let later = message(["b@two.test", "c@one.test"], due: now.addingTimeInterval(3600))
            try await queue.enqueue([due, later])
            #expect(try await queue.dueIDs(now: now, limit: 10) == [due.id])

            try await queue.hold(due.id)
            #expect(try await queue.dueIDs(now: now, limit: 10) == [])
            #expect(try await queue.flush(now: now) == 2)  // later's two; the held one stays held
            #expect(try await queue.dueIDs(now: now, limit: 10) == [later.id])
            #expect(try await queue.list().first { $0.id == due.id }?.held == true)
            try await queue.release(due.id, now: now)
            #expect(Set(try await queue.dueIDs(now: now, limit: 10)) == [due.id, later.id])
            await #expect(throws: QueueError.notFound("0000000000000000")) {
                try await queue.hold(QueueID("0000000000000000")!)
            }
        }
    }

    @Test func flushByMessageAndByDomain() async throws {
        try await withQueue { queue in
            let now = Date()
            let a = message(["x@one.test", "y@two.test"], due: now.addingTimeInterval(600))
            let b = message(["z@ONE.test"], due: now.addingTimeInterval(600))
            try await queue.enqueue([a, b])
            #expect(try await queue.flush(destination: "one.test", now: now) == 2)
            #expect(Set(try await queue.dueIDs(now: now, limit: 10)) == [a.id, b.id])
            let c = message(["w@three.test"], due: now.addingTimeInterval(600))
            try await queue.enqueue([c])
            #expect(try await queue.flush(c.id, now: now) == 1)
            #expect(try await queue.list(destination: "three.test").map(\.id) == [c.id])
        }
    }

    @Test func oneBatchRecordsSeveralAttemptsAndRemovesFinishedMessages() async throws {
        try await withQueue { queue in
            let now = Date()
            let a = message(["x@one.test"], due: now)
            let b = message(["y@two.test", "z@two.test"], due: now)
            try await queue.enqueue([a, b])
            var done = a.recipients[0]
            done.state = .delivered
            var deferred = b.recipients[0]
            deferred.attempts = 1
            deferred.nextAttempt = now.addingTimeInterval(300)
            deferred.delayWarned = true
            try await queue.record([AttemptRecord(id: a.id, updates: [done]), AttemptRecord(id: b.id, updates: [deferred])])
            let left = try await queue.list()
            #expect(left.map(\.id) == [b.id])
            #expect(left[0].recipients.first { $0.address == "y@two.test" }?.delayWarned == true)
            #expect(try await queue.dueIDs(now: now, limit: 10) == [b.id])  // z is still due
        }
    }
}
