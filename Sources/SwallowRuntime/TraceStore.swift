import Foundation
import MailQueue

extension SwallowConfiguration {
    /// The message trace (`trace.sqlite`) with the configured `[trace] retention_days`, or nil
    /// when the trace is off. The server and every command (`swallow trace`, the queue actions)
    /// open it here. Whoever writes to the trace also prunes it, so a command that opened it with
    /// another retention would delete what the server is configured to keep. A command prunes
    /// with the same retention as the server. That deletes only what the server's own hourly
    /// prune would delete, and MessageTrace needs no second, non-pruning mode.
    public func openTrace() throws -> MessageTrace? {
        guard trace.retentionDays > 0 else { return nil }
        return try MessageTrace(path: dataFile("trace.sqlite"), retention: TimeInterval(trace.retentionDays) * 86_400)
    }
}
