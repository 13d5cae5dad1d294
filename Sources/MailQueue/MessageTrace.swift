import Foundation
import GRDB
import SQLiteSupport
import Synchronization

/// One thing that happened to a message, as `swallow trace` and the console show it.
public struct TraceEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Accepted (SMTP, LMTP, sendmail) or created (a bounce): data `client`, `helo`, `tls`, `auth`, `protocol`, `size`.
        case received
        /// Stored in a local mailbox: data `mailbox`, `uid`.
        case delivered
        /// A remote server answered 250: data `host`, `ip`, `reply`.
        case relayed
        /// A temporary failure; another attempt follows: data `reply`, and `host`/`ip` when connected.
        case deferred
        /// A permanent failure, or given up: data `reply`.
        case failed
        /// A delivery report was sent to the sender: data `report` (its own queue ID).
        case bounced
        /// An administrator's action on the queued message: data `action`.
        case admin
    }

    public var queueID: QueueID
    public var time: Date
    public var kind: Kind
    public var recipient: String?
    /// One line for people.
    public var text: String
    public var data: [String: String]

    public init(queueID: QueueID, time: Date = Date(), kind: Kind, recipient: String? = nil, text: String,
                data: [String: String] = [:]) {
        self.queueID = queueID; self.time = time; self.kind = kind; self.recipient = recipient; self.text = text; self.data = data
    }
}

/// A message's envelope as it was received, for finding it again.
public struct TracedEnvelope: Sendable, Equatable {
    public var queueID: QueueID
    public var time: Date
    /// Without angle brackets; nil when the message has none.
    public var messageID: String?
    public var sender: String
    public var recipients: [String]

    public init(queueID: QueueID, time: Date = Date(), messageID: String?, sender: String, recipients: [String]) {
        self.queueID = queueID; self.time = time; self.messageID = messageID; self.sender = sender; self.recipients = recipients
    }
}

/// A message and everything that happened to it, oldest event first.
public struct TracedMessage: Sendable, Equatable {
    public var envelope: TracedEnvelope
    public var events: [TraceEvent]
}

/// Every message's hops, stored (not scraped from logs) in `trace.sqlite`, kept for a bounded
/// time (`[trace] retention_days`).
///
/// Recording never waits for the disk: events gather in memory and are written together about
/// every 100 ms. The trace is not acknowledged mail, so it is written with `synchronous = NORMAL`
/// (durable at the next checkpoint, never corrupt): a power cut may lose the last second of
/// trace, never a message. Memory is bounded: beyond `maxPending` events the oldest unwritten
/// ones are dropped and counted.
public final class MessageTrace: Sendable {
    public static let maxPending = 50_000
    static let flushDelay: Duration = .milliseconds(100)

    private struct Pending: Sendable {
        var envelopes: [TracedEnvelope] = []
        var events: [TraceEvent] = []
        var flushing = false
        var dropped = 0
        var lastPrune = Date.distantPast
    }

    let pool: DatabasePool
    let retention: TimeInterval
    private let pending = Mutex(Pending())

    /// `retention` has no default: whoever opens the trace prunes it (at its first write), so a
    /// reader with another retention than the configured one would delete what should be kept.
    public init(path: String, retention: TimeInterval) throws {
        try DurablePool.createPrivateFile(path)
        var config = Configuration()
        config.busyMode = .timeout(10)
        pool = try DatabasePool(path: path, configuration: config)
        self.retention = retention
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE trace_message (
                    queue_id TEXT PRIMARY KEY,
                    time REAL NOT NULL,
                    message_id TEXT,
                    sender TEXT NOT NULL,
                    recipients TEXT NOT NULL);
                CREATE INDEX trace_message_time ON trace_message(time);
                CREATE INDEX trace_message_mid ON trace_message(message_id);
                CREATE TABLE trace_address (
                    address TEXT NOT NULL COLLATE NOCASE,
                    queue_id TEXT NOT NULL,
                    PRIMARY KEY (address, queue_id)) WITHOUT ROWID;
                CREATE TABLE trace_event (
                    id INTEGER PRIMARY KEY,
                    queue_id TEXT NOT NULL,
                    time REAL NOT NULL,
                    kind TEXT NOT NULL,
                    recipient TEXT,
                    text TEXT NOT NULL,
                    data TEXT NOT NULL);
                CREATE INDEX trace_event_queue ON trace_event(queue_id, id);
                CREATE INDEX trace_event_time ON trace_event(time);
                """)
        }
        try migrator.migrate(pool)
    }

    // MARK: Recording

    public func received(_ envelope: TracedEnvelope, _ event: TraceEvent) {
        enqueue { $0.envelopes.append(envelope); $0.events.append(event) }
    }

    public func record(_ events: [TraceEvent]) {
        guard !events.isEmpty else { return }
        enqueue { $0.events.append(contentsOf: events) }
    }

    public func record(_ event: TraceEvent) { record([event]) }

    private func enqueue(_ change: (inout Pending) -> Void) {
        let start = pending.withLock { p -> Bool in
            change(&p)
            if p.events.count > Self.maxPending {
                let excess = p.events.count - Self.maxPending
                p.events.removeFirst(excess)
                p.dropped += excess
            }
            guard !p.flushing else { return false }
            p.flushing = true
            return true
        }
        if start {
            Task.detached { [self] in
                try? await Task.sleep(for: Self.flushDelay)
                await self.flush()
            }
        }
    }

    /// Writes what is pending now (also called at shutdown and by tests).
    public func flush() async {
        while true {
            let (envelopes, events, prune) = pending.withLock { p -> ([TracedEnvelope], [TraceEvent], Bool) in
                defer { p.envelopes = []; p.events = [] }
                let now = Date()
                let prune = now.timeIntervalSince(p.lastPrune) > 3600
                if prune { p.lastPrune = now }
                if p.envelopes.isEmpty && p.events.isEmpty && !prune { p.flushing = false }
                return (p.envelopes, p.events, prune)
            }
            if envelopes.isEmpty && events.isEmpty && !prune { return }
            do {
                try await pool.write { db in
                    for e in envelopes { try Self.insert(e, db) }
                    for e in events { try Self.insert(e, db) }
                    if prune { try Self.prune(db, before: Date().addingTimeInterval(-self.retention)) }
                }
            } catch {
                // The trace is a diagnostic: a full disk must not stop mail. Counted, not retried.
                pending.withLock { $0.dropped += envelopes.count + events.count }
            }
        }
    }

    /// Events lost to a full buffer or a failed write since start.
    public var droppedEvents: Int { pending.withLock { $0.dropped } }

    private static func insert(_ e: TracedEnvelope, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO trace_message (queue_id, time, message_id, sender, recipients) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [e.queueID.rawValue, e.time.timeIntervalSince1970, e.messageID, e.sender,
                                     e.recipients.joined(separator: "\n")])
        for address in Set([e.sender] + e.recipients) where !address.isEmpty {
            try indexAddress(address, e.queueID, db)
        }
    }

    private static func insert(_ e: TraceEvent, _ db: Database) throws {
        let data = String(decoding: try JSONSerialization.data(withJSONObject: e.data, options: [.sortedKeys]), as: UTF8.self)
        try db.cachedStatement(sql: """
            INSERT INTO trace_event (queue_id, time, kind, recipient, text, data) VALUES (?, ?, ?, ?, ?, ?)
            """).execute(arguments: [e.queueID.rawValue, e.time.timeIntervalSince1970, e.kind.rawValue, e.recipient, e.text, data])
        // Where an alias led (sales@ -> alice@) is found by either address.
        if let recipient = e.recipient { try indexAddress(recipient, e.queueID, db) }
    }

    private static func indexAddress(_ address: String, _ id: QueueID, _ db: Database) throws {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO trace_address (address, queue_id) VALUES (?, ?)")
            .execute(arguments: [address, id.rawValue])
    }

    static func prune(_ db: Database, before: Date) throws {
        let cutoff = before.timeIntervalSince1970
        try db.execute(sql: """
            DELETE FROM trace_address WHERE queue_id IN (SELECT queue_id FROM trace_message WHERE time < ?);
            DELETE FROM trace_message WHERE time < ?;
            DELETE FROM trace_event WHERE time < ?;
            """, arguments: [cutoff, cutoff, cutoff])
    }

    // MARK: Reading

    /// Messages matching `query` (a queue ID, an address, or a Message-ID with or without its
    /// angle brackets) with events between `since` and `until`, most recent first.
    public func find(_ query: String, since: Date? = nil, until: Date? = nil, limit: Int = 50) async throws -> [TracedMessage] {
        await flush()
        var q = query.trimmingCharacters(in: .whitespaces)
        if q.hasPrefix("<") && q.hasSuffix(">") && q.count > 2 { q = String(q.dropFirst().dropLast()) }
        let lower = since?.timeIntervalSince1970 ?? 0
        let upper = until?.timeIntervalSince1970 ?? Double.greatestFiniteMagnitude
        let idQuery = q
        return try await pool.read { db in
            var ids: [String] = []
            if let id = QueueID(idQuery.uppercased()) { ids.append(id.rawValue) }
            ids += try String.fetchAll(db.cachedStatement(sql: "SELECT queue_id FROM trace_message WHERE message_id = ?"), arguments: [idQuery])
            if idQuery.contains("@") {
                ids += try String.fetchAll(db.cachedStatement(sql: "SELECT queue_id FROM trace_address WHERE address = ?"), arguments: [idQuery])
            }
            var seen = Set<String>()
            var found: [TracedMessage] = []
            for id in ids where seen.insert(id).inserted {
                guard let message = try Self.load(id, db) else { continue }
                let times = message.events.map(\.time.timeIntervalSince1970) + [message.envelope.time.timeIntervalSince1970]
                guard times.contains(where: { $0 >= lower && $0 <= upper }) else { continue }
                found.append(message)
            }
            found.sort { $0.envelope.time > $1.envelope.time }
            return Array(found.prefix(limit))
        }
    }

    /// The most recent messages with events between `since` and `until` (as `find` counts
    /// them: the arrival or any event), for a search without a query.
    public func recent(since: Date? = nil, until: Date? = nil, limit: Int = 50) async throws -> [TracedMessage] {
        await flush()
        let lower = since?.timeIntervalSince1970 ?? 0
        let upper = until?.timeIntervalSince1970 ?? Double.greatestFiniteMagnitude
        return try await pool.read { db in
            try String.fetchAll(db.cachedStatement(sql: """
                SELECT queue_id FROM trace_message
                WHERE time BETWEEN ?1 AND ?2 OR queue_id IN (SELECT queue_id FROM trace_event WHERE time BETWEEN ?1 AND ?2)
                ORDER BY time DESC LIMIT ?3
                """), arguments: [lower, upper, limit])
                .compactMap { try Self.load($0, db) }
        }
    }

    /// Events of each kind since `since` (the dashboard's last hour).
    public func counts(since: Date) async throws -> [TraceEvent.Kind: Int] {
        await flush()
        return try await pool.read { db in
            var counts: [TraceEvent.Kind: Int] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT kind, count(*) AS n FROM trace_event WHERE time >= ? GROUP BY kind"),
                                        arguments: [since.timeIntervalSince1970]) {
                if let kind = TraceEvent.Kind(rawValue: row["kind"]) { counts[kind] = row["n"] }
            }
            return counts
        }
    }

    private static func load(_ id: String, _ db: Database) throws -> TracedMessage? {
        guard let queueID = QueueID(id) else { return nil }
        let events = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT time, kind, recipient, text, data FROM trace_event WHERE queue_id = ? ORDER BY id
            """), arguments: [id]).map { row -> TraceEvent in
                let json = (row["data"] as String?).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
                return TraceEvent(queueID: queueID, time: Date(timeIntervalSince1970: row["time"]),
                                  kind: TraceEvent.Kind(rawValue: row["kind"]) ?? .admin, recipient: row["recipient"],
                                  text: row["text"], data: json as? [String: String] ?? [:])
            }
        let envelope: TracedEnvelope
        if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT time, message_id, sender, recipients FROM trace_message WHERE queue_id = ?"),
                                      arguments: [id]) {
            let recipients: String = row["recipients"]
            envelope = TracedEnvelope(queueID: queueID, time: Date(timeIntervalSince1970: row["time"]), messageID: row["message_id"],
                                      sender: row["sender"], recipients: recipients.split(separator: "\n").map(String.init))
        } else if let first = events.first {
            envelope = TracedEnvelope(queueID: queueID, time: first.time, messageID: nil, sender: "", recipients: [])
        } else {
            return nil
        }
        return TracedMessage(envelope: envelope, events: events)
    }
}
