import Foundation
@testable import MailQueue
import Testing

/// The stored trace: found by queue ID, by any address it passed through (sender, envelope
/// recipient, the account an alias led to) and by Message-ID; bounded by time and retention.
@Suite("Message trace")
struct MessageTraceTests {
    func withTrace(retention: TimeInterval = 86_400, _ body: (MessageTrace) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-trace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await body(try MessageTrace(path: dir.appendingPathComponent("trace.sqlite").path, retention: retention))
    }

    func received(_ trace: MessageTrace, at time: Date = Date(), messageID: String? = "abc@client.test") -> QueueID {
        let id = QueueID.make()
        trace.received(TracedEnvelope(queueID: id, time: time, messageID: messageID, sender: "Ann@Outside.test",
                                      recipients: ["sales@example.test"]),
                       TraceEvent(queueID: id, time: time, kind: .received, text: "received", data: ["client": "192.0.2.1"]))
        trace.record(TraceEvent(queueID: id, time: time, kind: .delivered, recipient: "alice@example.test", text: "delivered",
                                data: ["mailbox": "INBOX", "uid": "7"]))
        return id
    }

    @Test func foundByQueueIDAddressesAndMessageID() async throws {
        try await withTrace { trace in
            let id = received(trace)
            for query in [id.rawValue, id.rawValue.lowercased(), "ann@outside.test", "sales@example.test", "alice@example.test",
                          "abc@client.test", "<abc@client.test>"] {
                let found = try await trace.find(query)
                #expect(found.map(\.envelope.queueID) == [id], "\(query)")
            }
            let message = try #require(try await trace.find(id.rawValue).first)
            #expect(message.events.map(\.kind) == [.received, .delivered])
            #expect(message.events[1].data == ["mailbox": "INBOX", "uid": "7"])
            #expect(try await trace.find("nobody@example.test").isEmpty)
        }
    }

    @Test func timeRangeAndMostRecentFirst() async throws {
        try await withTrace { trace in
            let old = received(trace, at: Date().addingTimeInterval(-7200))
            let new = received(trace)
            #expect(try await trace.find("alice@example.test").map(\.envelope.queueID) == [new, old])
            #expect(try await trace.find("alice@example.test", since: Date().addingTimeInterval(-60)).map(\.envelope.queueID) == [new])
            #expect(try await trace.find("alice@example.test", until: Date().addingTimeInterval(-3600)).map(\.envelope.queueID) == [old])
            // Without a query (the API's and the console's search by time range alone).
            #expect(try await trace.recent().map(\.envelope.queueID) == [new, old])
            #expect(try await trace.recent(since: Date().addingTimeInterval(-60)).map(\.envelope.queueID) == [new])
            #expect(try await trace.recent(until: Date().addingTimeInterval(-3600)).map(\.envelope.queueID) == [old])
            #expect(try await trace.recent(since: Date().addingTimeInterval(60)).isEmpty)
            // A message that arrived before the range with an event in it is in the range.
            trace.record(TraceEvent(queueID: old, kind: .deferred, text: "deferred again"))
            #expect(try await trace.recent(since: Date().addingTimeInterval(-60)).map(\.envelope.queueID) == [new, old])
            let counts = try await trace.counts(since: Date().addingTimeInterval(-60))
            #expect(counts[.received] == 1 && counts[.delivered] == 1)
        }
    }

    @Test func retentionPrunesOldMessages() async throws {
        try await withTrace(retention: 3600) { trace in
            let old = received(trace, at: Date().addingTimeInterval(-7200))
            let new = received(trace)
            await trace.flush()
            try await trace.pool.write { db in try MessageTrace.prune(db, before: Date().addingTimeInterval(-3600)) }
            #expect(try await trace.find(old.rawValue).isEmpty)
            #expect(try await trace.find("alice@example.test").map(\.envelope.queueID) == [new])
        }
    }
}
