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
        /// An RFC 3464 "delayed" report was sent for this recipient (once only).
        public var delayWarned = false

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
    /// Held by the administrator (`swallow queue hold`): never attempted until released.
    public var held = false
    /// Set when queueing is one of several commits of one SMTP acceptance: `enqueue` records it
    /// in the same transaction (`AcceptanceLedger`). Not kept with the message.
    public var acceptance: AcceptanceMark?

    public init(id: QueueID, sender: String, recipients: [Recipient], arrival: Date = Date(), bytes: [UInt8],
                envelopeID: String? = nil, returnFull: Bool = false, smtputf8: Bool = false, eightBit: Bool = false,
                binary: Bool = false, held: Bool = false, acceptance: AcceptanceMark? = nil) {
        self.id = id; self.sender = sender; self.recipients = recipients; self.arrival = arrival; self.bytes = bytes
        self.envelopeID = envelopeID; self.returnFull = returnFull; self.smtputf8 = smtputf8; self.eightBit = eightBit
        self.binary = binary; self.held = held; self.acceptance = acceptance
    }
}

/// One line of `swallow queue list`.
public struct QueueSummary: Sendable, Equatable {
    public let id: QueueID
    public let sender: String
    public let size: Int
    public let arrival: Date
    public let held: Bool
    public let recipients: [QueuedMessage.Recipient]
}

/// The domain of an address as the queue sees it: after the last `@`, lowercased.
public func recipientDomain(_ address: String) -> String {
    guard let at = address.lastIndex(of: "@") else { return "" }
    return address[address.index(after: at)...].lowercased()
}

/// Several attempts' results, written in one transaction (`OutboundQueue.record(_:)`).
public struct AttemptRecord: Sendable {
    public var id: QueueID
    public var updates: [QueuedMessage.Recipient]
    /// Produced by the attempt: bounces, delay reports, copies for forwarding aliases.
    public var enqueue: [QueuedMessage]

    public init(id: QueueID, updates: [QueuedMessage.Recipient], enqueue: [QueuedMessage] = []) {
        self.id = id; self.updates = updates; self.enqueue = enqueue
    }
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
    private let observers = Mutex<[@Sendable ([QueuedMessage]) -> Void]>([])

    /// Called with the messages after every durable enqueue, bounces queued by `record` too:
    /// the queue manager takes them into its active queue without reading them back.
    public func onEnqueue(_ observer: @escaping @Sendable ([QueuedMessage]) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// A recipient held back by `hold` waits until this (`release` makes it due again).
    static let heldUntil: Double = 1e15

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
        migrator.registerMigration("v3-hold-delay") { db in
            try db.execute(sql: """
                ALTER TABLE queue_message ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE queue_recipient ADD COLUMN delay_warned INTEGER NOT NULL DEFAULT 0;
                """)
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
        notifyEnqueued(messages)
    }

    private func notifyEnqueued(_ messages: [QueuedMessage]) {
        for observer in observers.withLock({ $0 }) { observer(messages) }
    }

    // Statements are prepared once per connection (GRDB's statement cache): the queue writes
    // a few rows per message at thousands of messages per second.
    private static func insert(_ m: QueuedMessage, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO queue_message (id, sender, arrival, bytes, envid, ret_full, smtputf8, eight_bit, binary, held)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [m.id.rawValue, m.sender, m.arrival.timeIntervalSince1970, Data(m.bytes), m.envelopeID,
                                     m.returnFull, m.smtputf8, m.eightBit, m.binary, m.held])
        let insertRecipient = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO queue_recipient (message_id, address, orcpt, notify, state, attempts, next_attempt, last_error,
                                                   delay_warned)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for r in m.recipients {
            try insertRecipient.execute(arguments: [m.id.rawValue, r.address, r.originalRecipient, r.notify, r.state.rawValue,
                                                    r.attempts, r.nextAttempt.timeIntervalSince1970, r.lastError, r.delayWarned])
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

    /// Messages in the queue and the arrival of the oldest, for metrics and the dashboard.
    public func size() async throws(QueueError) -> (messages: Int, oldest: Date?) {
        do {
            return try await pool.read { db in
                let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT count(*) AS n, min(arrival) AS oldest FROM queue_message"))
                let oldest: Double? = row?["oldest"]
                return (row?["n"] ?? 0, oldest.map { Date(timeIntervalSince1970: $0) })
            }
        } catch { throw Self.map(error) }
    }

    /// Every queued message, or those with a recipient in `destination` (a domain).
    public func list(destination: String? = nil) async throws(QueueError) -> [QueueSummary] {
        let wanted = destination?.lowercased()
        do {
            return try await pool.read { db in
                let messages = try Row.fetchAll(db.cachedStatement(sql: "SELECT id, sender, arrival, held, length(bytes) AS size FROM queue_message ORDER BY id"))
                var recipients: [String: [QueuedMessage.Recipient]] = [:]
                for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM queue_recipient ORDER BY message_id, address")) {
                    recipients[row["message_id"], default: []].append(Self.recipient(row))
                }
                return messages.compactMap { row in
                    let id: String = row["id"]
                    let list = recipients[id] ?? []
                    if let wanted, !list.contains(where: { recipientDomain($0.address) == wanted }) { return nil }
                    return QueueSummary(id: QueueID(id)!, sender: row["sender"], size: row["size"],
                                        arrival: Date(timeIntervalSince1970: row["arrival"]), held: row["held"], recipients: list)
                }
            }
        } catch { throw Self.map(error) }
    }

    public func message(_ id: QueueID) async throws(QueueError) -> QueuedMessage {
        do {
            return try await pool.read { db in
                guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM queue_message WHERE id = ?"), arguments: [id.rawValue]) else {
                    throw QueueError.notFound(id.rawValue)
                }
                let recipients = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM queue_recipient WHERE message_id = ? ORDER BY address"),
                                                  arguments: [id.rawValue]).map(Self.recipient)
                return QueuedMessage(id: id, sender: row["sender"], recipients: recipients,
                                     arrival: Date(timeIntervalSince1970: row["arrival"]), bytes: [UInt8](row["bytes"] as Data),
                                     envelopeID: row["envid"], returnFull: row["ret_full"], smtputf8: row["smtputf8"],
                                     eightBit: row["eight_bit"], binary: row["binary"], held: row["held"])
            }
        } catch { throw Self.map(error) }
    }

    public func delete(_ id: QueueID) async throws(QueueError) {
        do {
            try await pool.write { db in
                try db.cachedStatement(sql: "DELETE FROM queue_message WHERE id = ?").execute(arguments: [id.rawValue])
                guard db.changesCount == 1 else { throw QueueError.notFound(id.rawValue) }
            }
        } catch { throw Self.map(error) }
    }

    /// Makes deferred recipients due now (`swallow queue flush`): all of them, one message's,
    /// or those in one domain; held messages stay held. Returns how many.
    @discardableResult
    public func flush(_ id: QueueID? = nil, destination: String? = nil, now: Date = Date()) async throws(QueueError) -> Int {
        let wanted = destination?.lowercased()
        do {
            return try await pool.write { db in
                var sql = "SELECT message_id, address FROM queue_recipient WHERE state = 0 AND next_attempt > ? AND next_attempt < ?"
                var arguments: StatementArguments = [now.timeIntervalSince1970, Self.heldUntil]
                if let id {
                    // One message: by its primary key (see `pendingCountSQL`).
                    sql = """
                        SELECT message_id, address FROM queue_recipient
                        WHERE message_id = ? AND +state = 0 AND +next_attempt > ? AND +next_attempt < ?
                        """
                    arguments = [id.rawValue, now.timeIntervalSince1970, Self.heldUntil]
                }
                var count = 0
                let update = try db.cachedStatement(sql: "UPDATE queue_recipient SET next_attempt = ? WHERE message_id = ? AND address = ?")
                for row in try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments) {
                    let address: String = row["address"]
                    if let wanted, recipientDomain(address) != wanted { continue }
                    try update.execute(arguments: [now.timeIntervalSince1970, row["message_id"] as String, address])
                    count += 1
                }
                return count
            }
        } catch { throw Self.map(error) }
    }

    /// Holds a message (`swallow queue hold`): its recipients are not attempted until `release`.
    public func hold(_ id: QueueID) async throws(QueueError) {
        try await setHeld(id, true, nextAttempt: Self.heldUntil)
    }

    /// Releases a held message; its pending recipients are due now.
    public func release(_ id: QueueID, now: Date = Date()) async throws(QueueError) {
        try await setHeld(id, false, nextAttempt: now.timeIntervalSince1970)
    }

    private func setHeld(_ id: QueueID, _ held: Bool, nextAttempt: Double) async throws(QueueError) {
        do {
            try await pool.write { db in
                try db.cachedStatement(sql: "UPDATE queue_message SET held = ? WHERE id = ?").execute(arguments: [held, id.rawValue])
                guard db.changesCount == 1 else { throw QueueError.notFound(id.rawValue) }
                try db.cachedStatement(sql: "UPDATE queue_recipient SET next_attempt = ? WHERE message_id = ? AND +state = 0").execute(
                               arguments: [nextAttempt, id.rawValue])
            }
        } catch { throw Self.map(error) }
    }

    /// IDs of messages with a pending recipient due by `now`, most overdue first; held messages
    /// are never due. One range of the (state, next_attempt) index: cheap however large the
    /// queue of messages waiting for a later retry.
    public func dueIDs(now: Date = Date(), limit: Int) async throws(QueueError) -> [QueueID] {
        do {
            return try await pool.read { db in
                try String.fetchAll(db.cachedStatement(sql: """
                    SELECT message_id FROM queue_recipient WHERE state = 0 AND next_attempt <= ?
                    GROUP BY message_id ORDER BY min(next_attempt) LIMIT ?
                    """), arguments: [now.timeIntervalSince1970, limit]).compactMap(QueueID.init)
            }
        } catch { throw Self.map(error) }
    }

    /// Records one attempt's results and queues what it produced; see `record(_:)`.
    public func record(_ id: QueueID, _ updates: [QueuedMessage.Recipient], enqueue messages: [QueuedMessage] = [])
        async throws(QueueError) {
        try await record([AttemptRecord(id: id, updates: updates, enqueue: messages)])
    }

    /// Records attempt results and queues what they produced (a bounce, copies for forwarding
    /// aliases) in the same transaction, so a failure is recorded exactly when its bounce
    /// exists. A message whose recipients are all done leaves the queue in that transaction too
    /// (it is "sent twice" only if we crash between the remote 250 and this). Several attempts
    /// share one transaction, and so one fsync (group commit).
    public func record(_ records: [AttemptRecord]) async throws(QueueError) {
        guard !records.isEmpty else { return }
        do {
            try await pool.write { db in
                let update = try db.cachedStatement(sql: """
                    UPDATE queue_recipient SET state = ?, attempts = ?, next_attempt = ?, last_error = ?, delay_warned = ?
                    WHERE message_id = ? AND address = ?
                    """)
                let pending = try db.cachedStatement(sql: Self.pendingCountSQL)
                let remove = try db.cachedStatement(sql: "DELETE FROM queue_message WHERE id = ?")
                // A message held while it was being attempted stays held.
                let keepHeld = try db.cachedStatement(sql: Self.keepHeldSQL)
                for record in records {
                    let id = record.id.rawValue
                    for r in record.updates {
                        try update.execute(arguments: [r.state.rawValue, r.attempts, r.nextAttempt.timeIntervalSince1970, r.lastError,
                                                       r.delayWarned, id, r.address])
                    }
                    if try Int.fetchOne(pending, arguments: [id]) ?? 0 == 0 {
                        try remove.execute(arguments: [id])
                    } else {
                        try keepHeld.execute(arguments: [Self.heldUntil, id, id])
                    }
                    for m in record.enqueue { try Self.insert(m, db) }
                }
            }
        } catch { throw Self.map(error) }
        let produced = records.flatMap(\.enqueue)
        if !produced.isEmpty { notifyEnqueued(produced) }
    }

    // `+state`: without the `+`, SQLite's planner prefers the (state, next_attempt) index, which
    // in a WITHOUT ROWID table covers message_id too, and scans every pending recipient of the
    // queue for each message: O(queue) per record, a crawl with 100,000 deferred messages.
    static let pendingCountSQL = "SELECT count(*) FROM queue_recipient WHERE message_id = ? AND +state = 0"
    static let keepHeldSQL = """
        UPDATE queue_recipient SET next_attempt = ? WHERE message_id = ? AND +state = 0
        AND EXISTS (SELECT 1 FROM queue_message WHERE id = ? AND held = 1)
        """

    /// SQLite's plan for each per-message statement (for tests: none may scan the queue).
    func queryPlans() throws -> [String: String] {
        try pool.read { db in
            var plans: [String: String] = [:]
            for (name, sql, arguments) in [("pending", Self.pendingCountSQL, ["x"]), ("keepHeld", Self.keepHeldSQL, [1, "x", "x"])]
                as [(String, String, StatementArguments)] {
                plans[name] = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments)
                    .map { $0["detail"] as String }.joined(separator: "; ")
            }
            return plans
        }
    }

    static func recipient(_ row: Row) -> QueuedMessage.Recipient {
        var r = QueuedMessage.Recipient(address: row["address"], originalRecipient: row["orcpt"], notify: row["notify"],
                                        nextAttempt: Date(timeIntervalSince1970: row["next_attempt"]))
        r.state = QueuedMessage.Recipient.State(rawValue: row["state"]) ?? .pending
        r.attempts = row["attempts"]
        r.lastError = row["last_error"]
        r.delayWarned = row["delay_warned"]
        return r
    }
}
