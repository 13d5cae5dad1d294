import Foundation
import GRDB
import SQLiteSupport

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

    /// The writer's `PRAGMA synchronous` (2 = FULL), for tests and `swallow doctor`.
    public func synchronousLevel() throws -> Int { try DurablePool.writerSynchronousLevel(pool) }

    public init(path: String, configuration: Configuration = .init()) throws {
        self.path = path
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeout)
        config.maximumReaderCount = configuration.maximumReaderCount
        config.foreignKeysEnabled = true
        pool = try DurablePool.open(path: path, configuration: config)
        try Schema.migrator.migrate(pool)
    }

    /// Runs `body` in one write transaction; GRDB errors become `StoreError.temporary` via `map`.
    func write<T: Sendable, E: Error>(
        mapError: @Sendable (any Error) -> E, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(E) -> T {
        do { return try await pool.write(body) } catch { throw mapError(error) }
    }

    /// `write` without an fsync of its own (see `DurablePool.writeRelaxed`): for flag changes
    /// and expunges, never for anything that acknowledges mail.
    func writeRelaxed<T: Sendable, E: Error>(
        mapError: @Sendable (any Error) -> E, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(E) -> T {
        do { return try await DurablePool.writeRelaxed(pool, body) } catch { throw mapError(error) }
    }

    /// Reads on the calling thread: GRDB's synchronous read runs on the caller (`DispatchQueue.sync`
    /// on an idle reader), where its async read hands the work to a reader's queue and the result
    /// back, two thread wake-ups that cost an IMAP command more than its queries (profiled on
    /// SEARCH: `futex_wake` from `_dispatch_root_queue_poke` was a quarter of the server's time).
    /// WAL readers never wait for the writer, so this blocks only for the query itself.
    func read<T: Sendable, E: Error>(
        mapError: @Sendable (any Error) -> E, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(E) -> T {
        do { return try Self.readHere(pool, body) } catch { throw mapError(error) }
    }

    /// Not `async`, so that `pool.read` is GRDB's synchronous read.
    private static func readHere<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }
}

/// Seconds since 1970, as every timestamp column stores them.
func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }

extension Database {
    /// A prepared statement: from the connection's cache when `cached` (statements run on every
    /// command are compiled once per connection, not each time: compiling and GRDB's
    /// authorizer cost more than running them), compiled for one use otherwise.
    func statement(sql: String, cached: Bool) throws -> Statement {
        cached ? try cachedStatement(sql: sql) : try makeStatement(sql: sql)
    }
}
