import Foundation
import GRDB
import MailCore
import SQLiteSupport
import Synchronization

/// A message waiting for delivery by the queue (remote recipients, and bounces), with
/// per-recipient state (DESIGN.md §1 durable queue).
public struct QueuedMessage: Sendable, Equatable {
    public struct Recipient: Sendable, Equatable {
        public enum State: Int, Sendable {
            case pending = 0, delivered = 1, failed = 2
        }
        public var address: String
        /// RFC 3461 ORCPT and NOTIFY, kept for the DSN.
        public var originalRecipient: String?
        public var notify: String?
        public var state: State = .pending
        public var attempts = 0
        public var nextAttempt: Date
        public var lastError: String?

        public init(address: String, originalRecipient: String? = nil, notify: String? = nil, nextAttempt: Date = Date()) {
            self.address = address
            self.originalRecipient = originalRecipient
            self.notify = notify
            self.nextAttempt = nextAttempt
        }
    }

    public var id: QueueID
    /// "" is the null sender `<>`.
    public var sender: String
    public var recipients: [Recipient]
    public var arrival: Date
    /// The message as accepted, with our `Received:` header, CRLF line endings.
    public var bytes: [UInt8]
    /// RFC 3461 ENVID and RET.
    public var envelopeID: String?
    public var returnFull: Bool
    public var smtputf8: Bool
    public var eightBit: Bool
    /// Received as BODY=BINARYMIME (RFC 3030).
    public var binary: Bool
    /// Set when queueing is one of several commits of one SMTP acceptance: `enqueue` records it
    /// in the same transaction (`AcceptanceLedger`). Not kept with the message.
    public var acceptance: AcceptanceMark?

    public init(id: QueueID, sender: String, recipients: [Recipient], arrival: Date = Date(), bytes: [UInt8],
                envelopeID: String? = nil, returnFull: Bool = false, smtputf8: Bool = false, eightBit: Bool = false,
                binary: Bool = false, acceptance: AcceptanceMark? = nil) {
        self.id = id; self.sender = sender; self.recipients = recipients; self.arrival = arrival; self.bytes = bytes
        self.envelopeID = envelopeID; self.returnFull = returnFull; self.smtputf8 = smtputf8; self.eightBit = eightBit
        self.binary = binary; self.acceptance = acceptance
    }
}

/// One line of `swallow queue list`.
public struct QueueSummary: Sendable, Equatable {
    public let id: QueueID
    public let sender: String
    public let size: Int
    public let arrival: Date
    public let recipients: [QueuedMessage.Recipient]
}

public enum QueueError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case temporary(String)

    public var description: String {
        switch self {
        case .notFound(let id): "no queued message \(id)"
        case .temporary(let why): "queue failure: \(why)"
        }
    }
}

/// The durable outbound queue in its own SQLite file (`queue.sqlite` in the data directory):
/// WAL, `synchronous = FULL`, so `enqueue` returns only once the message is on disk.
public final class OutboundQueue: Sendable {
    let pool: DatabasePool

    /// The writer's `PRAGMA synchronous` (2 = FULL), for tests.
    public func synchronousLevel() throws -> Int { try DurablePool.writerSynchronousLevel(pool) }
    private let observers = Mutex<[@Sendable () -> Void]>([])

    /// Called after every durable enqueue, bounces queued by `record` too (the queue runner
    /// wakes up instead of polling).
    public func onEnqueue(_ observer: @escaping @Sendable () -> Void) {
        observers.withLock { $0.append(observer) }
    }

    public init(path: String) throws {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(30)
        pool = try DurablePool.open(path: path, configuration: config)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE queue_message (
                    id TEXT PRIMARY KEY,
                    sender TEXT NOT NULL,
                    arrival REAL NOT NULL,
                    bytes BLOB NOT NULL,
                    envid TEXT,
                    ret_full INTEGER NOT NULL,
                    smtputf8 INTEGER NOT NULL,
                    eight_bit INTEGER NOT NULL,
                    binary INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE queue_recipient (
                    message_id TEXT NOT NULL REFERENCES queue_message(id) ON DELETE CASCADE,
                    address TEXT NOT NULL,
                    orcpt TEXT,
                    notify TEXT,
                    state INTEGER NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_attempt REAL NOT NULL,
                    last_error TEXT,
                    PRIMARY KEY (message_id, address)) WITHOUT ROWID;
                CREATE INDEX queue_recipient_due ON queue_recipient(state, next_attempt);
                """)
        }
        migrator.registerMigration("v2-acceptance") { db in
            // Acceptances whose queueing was one of several commits, so that the client's retry
            // after a failure elsewhere does not queue the message twice (AcceptanceLedger,
            // SQLiteSupport.AcceptanceTable); pruned after a day.
            try AcceptanceTable.create(db)
        }
        try migrator.migrate(pool)
    }

    private static func map(_ error: any Error) -> QueueError {
        (error as? QueueError) ?? .temporary(String(describing: error))
    }

    /// Stores the messages durably, all in one transaction (group commit).
    public func enqueue(_ messages: [QueuedMessage]) async throws(QueueError) {
        guard !messages.isEmpty else { return }
        do {
            try await pool.write { db in
                for m in messages {
                    try Self.insert(m, db)
                    if let mark = m.acceptance {
                        let now = Int64(Date().timeIntervalSince1970)
                        try AcceptanceTable.record(db, mark, [.queue] + mark.carried, now: now)
                        try AcceptanceTable.prune(db, now: now)
                    }
                }
            }
        } catch { throw Self.map(error) }
        notifyEnqueued()
    }

    private func notifyEnqueued() {
        for observer in observers.withLock({ $0 }) { observer() }
    }

    private static func insert(_ m: QueuedMessage, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO queue_message (id, sender, arrival, bytes, envid, ret_full, smtputf8, eight_bit, binary)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [m.id.rawValue, m.sender, m.arrival.timeIntervalSince1970, Data(m.bytes), m.envelopeID,
                             m.returnFull, m.smtputf8, m.eightBit, m.binary])
        for r in m.recipients {
            try db.execute(sql: """
                INSERT OR IGNORE INTO queue_recipient (message_id, address, orcpt, notify, state, attempts, next_attempt, last_error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [m.id.rawValue, r.address, r.originalRecipient, r.notify, r.state.rawValue, r.attempts,
                                 r.nextAttempt.timeIntervalSince1970, r.lastError])
        }
    }

    /// What `enqueue` recorded under this fingerprint (`AcceptanceLedger`), within its retention.
    public func acceptanceEntries(fingerprint: [UInt8]) async throws(QueueError) -> [AcceptanceEntry] {
        do {
            return try await pool.read { db in
                try AcceptanceTable.entries(db, fingerprint: fingerprint, now: Int64(Date().timeIntervalSince1970))
            }
        } catch { throw Self.map(error) }
    }

    public func list() async throws(QueueError) -> [QueueSummary] {
        do {
            return try await pool.read { db in
                let messages = try Row.fetchAll(db, sql: "SELECT id, sender, arrival, length(bytes) AS size FROM queue_message ORDER BY id")
                return try messages.map { row in
                    let id: String = row["id"]
                    let recipients = try Row.fetchAll(db, sql: "SELECT * FROM queue_recipient WHERE message_id = ? ORDER BY address",
                                                      arguments: [id]).map(Self.recipient)
                    return QueueSummary(id: QueueID(id)!, sender: row["sender"], size: row["size"],
                                        arrival: Date(timeIntervalSince1970: row["arrival"]), recipients: recipients)
                }
            }
        } catch { throw Self.map(error) }
    }

    public func message(_ id: QueueID) async throws(QueueError) -> QueuedMessage {
        do {
            return try await pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM queue_message WHERE id = ?", arguments: [id.rawValue]) else {
                    throw QueueError.notFound(id.rawValue)
                }
                let recipients = try Row.fetchAll(db, sql: "SELECT * FROM queue_recipient WHERE message_id = ? ORDER BY address",
                                                  arguments: [id.rawValue]).map(Self.recipient)
                return QueuedMessage(id: id, sender: row["sender"], recipients: recipients,
                                     arrival: Date(timeIntervalSince1970: row["arrival"]), bytes: [UInt8](row["bytes"] as Data),
                                     envelopeID: row["envid"], returnFull: row["ret_full"], smtputf8: row["smtputf8"],
                                     eightBit: row["eight_bit"], binary: row["binary"])
            }
        } catch { throw Self.map(error) }
    }

    public func delete(_ id: QueueID) async throws(QueueError) {
        do {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM queue_message WHERE id = ?", arguments: [id.rawValue])
                guard db.changesCount == 1 else { throw QueueError.notFound(id.rawValue) }
            }
        } catch { throw Self.map(error) }
    }

    /// Makes every pending recipient due now (`swallow queue flush`); returns how many.
    @discardableResult
    public func flush(now: Date = Date()) async throws(QueueError) -> Int {
        do {
            return try await pool.write { db in
                try db.execute(sql: "UPDATE queue_recipient SET next_attempt = ? WHERE state = 0", arguments: [now.timeIntervalSince1970])
                return db.changesCount
            }
        } catch { throw Self.map(error) }
    }

    /// Messages with at least one pending recipient due by `now`, oldest first.
    public func due(now: Date = Date(), limit: Int = 100) async throws(QueueError) -> [QueuedMessage] {
        let ids: [String]
        do {
            ids = try await pool.read { db in
                try String.fetchAll(db, sql: """
                    SELECT DISTINCT message_id FROM queue_recipient WHERE state = 0 AND next_attempt <= ?
                    ORDER BY message_id LIMIT ?
                    """, arguments: [now.timeIntervalSince1970, limit])
            }
        } catch { throw Self.map(error) }
        var result: [QueuedMessage] = []
        for id in ids {
            guard let queueID = QueueID(id), let m = try? await message(queueID) else { continue }
            result.append(m)
        }
        return result
    }

    /// Records attempt results and queues what they produced (a bounce, copies for forwarding
    /// aliases) in the same transaction, so a failure is recorded exactly when its bounce
    /// exists. A message whose recipients are all done leaves the queue in that transaction too
    /// (it is "sent twice" only if we crash between the remote 250 and this).
    public func record(_ id: QueueID, _ updates: [QueuedMessage.Recipient], enqueue messages: [QueuedMessage] = [])
        async throws(QueueError) {
        do {
            try await pool.write { db in
                for r in updates {
                    try db.execute(sql: """
                        UPDATE queue_recipient SET state = ?, attempts = ?, next_attempt = ?, last_error = ?
                        WHERE message_id = ? AND address = ?
                        """, arguments: [r.state.rawValue, r.attempts, r.nextAttempt.timeIntervalSince1970, r.lastError,
                                         id.rawValue, r.address])
                }
                let pending = try Int.fetchOne(db, sql: "SELECT count(*) FROM queue_recipient WHERE message_id = ? AND state = 0",
                                               arguments: [id.rawValue]) ?? 0
                if pending == 0 { try db.execute(sql: "DELETE FROM queue_message WHERE id = ?", arguments: [id.rawValue]) }
                for m in messages { try Self.insert(m, db) }
            }
        } catch { throw Self.map(error) }
        if !messages.isEmpty { notifyEnqueued() }
    }

    static func recipient(_ row: Row) -> QueuedMessage.Recipient {
        var r = QueuedMessage.Recipient(address: row["address"], originalRecipient: row["orcpt"], notify: row["notify"],
                                        nextAttempt: Date(timeIntervalSince1970: row["next_attempt"]))
        r.state = QueuedMessage.Recipient.State(rawValue: row["state"]) ?? .pending
        r.attempts = row["attempts"]
        r.lastError = row["last_error"]
        return r
    }
}
