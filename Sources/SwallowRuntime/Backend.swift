import Foundation
import MailAuth
import MailStore
import MailStoreSQLite

/// The storage backend the configuration selects: the user directory and the mailbox store.
public struct Backend: Sendable {
    public let directory: any DirectoryAdministration
    public let store: any MailStore
    /// Users' Sieve scripts and vacation memory.
    public let scripts: any SieveScriptStore
    /// The SQLite store, for the change-log poller (other processes' changes).
    let sqliteStore: SQLiteMailStore?

    public static func open(_ config: SwallowConfiguration) throws -> Backend {
        switch config.store.backend {
        case .sqlite:
            let database: SQLiteDatabase
            do {
                try FileIO.createDirectory(config.dataDirectory.path)
                database = try SQLiteDatabase(path: config.databasePath)
            } catch {
                throw ConfigurationError(file: config.sourcePath, key: "server.data_dir",
                                         message: "cannot open database '\(config.databasePath)': \(error)")
            }
            let store = SQLiteMailStore(database)
            return Backend(directory: SQLiteDirectory(database), store: store, scripts: store, sqliteStore: store)
        case .postgres:
            throw ConfigurationError(file: config.sourcePath, key: "store.backend",
                                     message: "the postgres backend is not available in this build yet; use \"sqlite\"")
        }
    }
}
