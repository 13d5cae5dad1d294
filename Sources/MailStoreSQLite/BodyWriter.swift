import GRDB
import GRDBSQLite

/// Writes a message body into `message_body` without another copy of it in memory.
///
/// An `INSERT` with the body as a bound blob costs two more copies of the message while the
/// statement runs (SQLite copies a transient binding, then builds the whole record in memory),
/// so a 20 MiB message cost 40 MiB more. Instead the row is inserted with a `zeroblob` of the
/// right length (a few bytes in the record) and the bytes are written into it in chunks with
/// SQLite's incremental blob I/O, which goes through the page cache (bounded, spilled to the
/// WAL) like any other write of the transaction.
enum BodyWriter {
    /// Bytes handed to `sqlite3_blob_write` at a time.
    static let chunkSize = 1 << 20

    /// Inserts a body row holding `bytes`; returns its id.
    static func insert(_ bytes: [UInt8], _ db: Database) throws -> Int64 {
        try db.cachedStatement(sql: "INSERT INTO message_body (bytes) VALUES (zeroblob(?))").execute(arguments: [bytes.count])
        let id = db.lastInsertedRowID
        guard !bytes.isEmpty else { return id }
        var handle: OpaquePointer?
        try check(sqlite3_blob_open(db.sqliteConnection, "main", "message_body", "bytes", id, 1, &handle), db)
        defer { sqlite3_blob_close(handle) }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let length = min(chunkSize, raw.count - offset)
                try check(sqlite3_blob_write(handle, raw.baseAddress! + offset, Int32(length), Int32(offset)), db)
                offset += length
            }
        }
        return id
    }

    private static func check(_ code: Int32, _ db: Database) throws {
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage)
        }
    }
}
