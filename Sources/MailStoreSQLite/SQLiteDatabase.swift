import Foundation
import GRDB

/// The embedded SQLite database that holds the user directory and the mailbox store.
///
/// Durability (DESIGN.md §4): WAL journal with `synchronous = FULL`, so every commit fsyncs
/// the WAL before `write` returns; a caller is told a message is stored only after that.
/// Several processes may open the same file (`swallow serve` and the CLI): WAL lets readers and
/// one writer run at once, and writers wait for each other up to `busyTimeout`.
public final class SQLiteDatabase: Sendable {
    public struct Configuration: Sendable {
        /// How long a writer waits for another process's write transaction.
        public var busyTimeout: TimeInterval = 30
        /// Reader connections in the pool.
        public var maximumReaderCount = 8
        public init() {}
    }

    public let path: String
    let pool: DatabasePool

    public init(path: String, configuration: Configuration = .init()) throws {
        self.path = path
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeout)
        config.maximumReaderCount = configuration.maximumReaderCount
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            // FULL: the WAL is fsync'd at every commit (NORMAL would only fsync at checkpoints,
            // losing the last commits on power failure).
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        // Mail files are never world-readable (DESIGN.md §4 least privilege). The file is made
        // owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
        // (Not umask: it is process-wide, and other threads create files too.)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        pool = try DatabasePool(path: path, configuration: config)
        try Schema.migrator.migrate(pool)
    }

    /// Runs `body` in one write transaction; GRDB errors become `StoreError.temporary` via `map`.
    func write<T: Sendable, E: Error>(
        mapError: @Sendable (any Error) -> E, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(E) -> T {
        do { return try await pool.write(body) } catch { throw mapError(error) }
    }

    func read<T: Sendable, E: Error>(
        mapError: @Sendable (any Error) -> E, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(E) -> T {
        do { return try await pool.read(body) } catch { throw mapError(error) }
    }
}

/// Seconds since 1970, as every timestamp column stores them.
func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }
