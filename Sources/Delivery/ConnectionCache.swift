import Foundation
import Synchronization

/// Idle outbound sessions kept for the next message to the same next hop (Postfix's scache):
/// keyed by the hop's address, port, name and client (TLS policy, credentials). An idle session
/// is closed after `idleTime`; a session carries at most `reuseLimit` transactions.
final class ConnectionCache: Sendable {
    struct Configuration: Sendable {
        var idleTime: Duration = .seconds(5)
        var reuseLimit = 100
    }

    private struct Idle {
        let connection: OutboundConnection
        let uses: Int
        let since: ContinuousClock.Instant
    }

    private struct State {
        var idle: [String: [Idle]] = [:]
        var sweeping = false
        var closed = false
    }

    let configuration: Configuration
    private let state = Mutex(State())

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// An idle session to `key` and the transactions it has carried, most recently used first.
    func take(_ key: String) -> (OutboundConnection, uses: Int)? {
        state.withLock { s in
            guard let idle = s.idle[key]?.popLast() else { return nil }
            if s.idle[key]?.isEmpty == true { s.idle[key] = nil }
            return (idle.connection, idle.uses)
        }
    }

    /// Keeps a session that is still usable, unless it has carried enough or the cache is closed.
    func put(_ key: String, _ connection: OutboundConnection, uses: Int) {
        guard uses < configuration.reuseLimit else { return connection.close() }
        let startSweeper = state.withLock { s -> Bool? in
            guard !s.closed else { return nil }
            s.idle[key, default: []].append(Idle(connection: connection, uses: uses, since: .now))
            defer { s.sweeping = true }
            return !s.sweeping
        }
        switch startSweeper {
        case nil: connection.close()
        case true?: Task { await self.sweep() }
        case false?: break
        }
    }

    /// Closes sessions idle for longer than `idleTime`; runs only while some are idle, so an
    /// empty cache costs nothing.
    private func sweep() async {
        while true {
            try? await Task.sleep(for: configuration.idleTime / 2)
            let (expired, more) = state.withLock { s -> ([OutboundConnection], Bool) in
                let deadline = ContinuousClock.now - configuration.idleTime
                var expired: [OutboundConnection] = []
                for (key, list) in s.idle {
                    let keep = list.filter { $0.since > deadline }
                    expired += list.filter { $0.since <= deadline }.map(\.connection)
                    s.idle[key] = keep.isEmpty ? nil : keep
                }
                if s.idle.isEmpty { s.sweeping = false }
                return (expired, !s.idle.isEmpty)
            }
            for c in expired { c.close() }
            if !more { return }
        }
    }

    /// Closes every idle session and keeps no more (shutdown).
    func closeAll() {
        let all = state.withLock { s -> [OutboundConnection] in
            s.closed = true
            defer { s.idle = [:] }
            return s.idle.values.flatMap { $0.map(\.connection) }
        }
        for c in all { c.close() }
    }
}
