import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Opens the SQLite databases that hold acknowledged mail (the mailbox store and the outbound
/// queue) so that a commit is on disk when it returns (DESIGN.md §4 durability).
///
/// WAL with `synchronous = FULL` fsyncs the WAL at every commit; `NORMAL` only at checkpoints,
/// so a power cut loses the commits since the last one. GRDB's `DatabasePool` switches its
/// writer to WAL *after* `prepareDatabase` has run and sets `synchronous = NORMAL` there, so a
/// `prepareDatabase` pragma alone is silently undone: the setting is applied to the writer
/// after the pool is open and read back.
public enum DurablePool {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// How much of a database file readers map (SQLite maps what exists, up to this).
    static let mmapSize = 1 << 30

    /// The `PRAGMA synchronous` value of FULL.
    static let full = 2

    /// Opens (creating owner-only when missing) the database at `path` as a WAL pool whose
    /// writer commits with `synchronous = FULL`.
    public static func open(path: String, configuration: GRDB.Configuration) throws -> DatabasePool {
        // Mail files are never world-readable (DESIGN.md §4 least privilege). The file is made
        // owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
        // O_NOFOLLOW: a symlink planted in the data directory is refused, not followed.
        // (Not umask: it is process-wide, and other threads create files too.)
        try createPrivateFile(path)
        var configuration = configuration
        configuration.prepareDatabase { db in
            // Reads of the database file through a memory map: no pread(2) and no copy per page.
            // A read-only map (SQLite writes with write(2) as before), so durability is unchanged.
            // Each write invalidates every reader's page cache in WAL mode, so without it a busy
            // IMAP server re-reads its pages with a syscall each (profiled: 10% of its time).
            try db.execute(sql: "PRAGMA mmap_size = \(mmapSize)")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let level = try writerSynchronousLevel(pool)
        guard level == full else {
            throw Failure(description: "\(path): synchronous is \(level) after setting FULL")
        }
        return pool
    }

    /// Creates `path` owner-only when missing (an existing file is opened, not changed); refuses
    /// a symlink.
    public static func createPrivateFile(_ path: String) throws {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        close(fd)
    }

    /// What the writer connection (the one that commits mail) really runs with.
    public static func writerSynchronousLevel(_ pool: DatabasePool) throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Runs `body` in one write transaction committed with `synchronous = NORMAL`: no fsync of
    /// its own. For changes that acknowledge no mail (flags, expunges): in WAL mode such a commit
    /// is never torn or corrupting; a power cut may undo it until the next durable commit or
    /// checkpoint fsyncs the WAL, which holds it (Dovecot does not fsync a flag change either).
    /// Everything that acknowledges mail keeps `synchronous = FULL`, restored before the writer
    /// is released to anyone else.
    public static func writeRelaxed<T: Sendable>(
        _ pool: DatabasePool, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            defer {
                // Never leave the writer relaxed: every later commit could then lose mail.
                do { try db.execute(sql: "PRAGMA synchronous = FULL") } catch {
                    preconditionFailure("cannot restore synchronous = FULL: \(error)")
                }
            }
            var value: T?
            try db.inTransaction {
                value = try body(db)
                return .commit
            }
            return value!
        }
    }
}
