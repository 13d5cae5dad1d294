import Logging
import MailStoreSQLite
import ServiceLifecycle

/// Picks up changes that other processes (the CLI importing mail, a second admin tool) wrote to
/// the shared SQLite database and publishes them to this process's change feed, so IDLE
/// sessions see them without a restart.
struct ChangeLogPoller: Service {
    let store: SQLiteMailStore
    let logger: Logger
    /// Short enough that IDLE clients hear of imported mail within a second.
    var interval: Duration = .milliseconds(250)
    var pruneEvery = 240

    func run() async throws {
        var position: Int64? = nil
        var ticks = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                position = try await store.pollForeignChanges(after: position)
                ticks += 1
                if ticks % pruneEvery == 0 { try await store.pruneChangeLog() }
            } catch {
                logger.warning("change log poll failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
