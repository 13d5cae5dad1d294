import Foundation
import Logging
import ServiceLifecycle

/// `swallow serve`: every configured service in one ServiceGroup; SIGTERM and SIGINT drain it
/// gracefully (DESIGN.md §5.7).
public struct Runtime: Sendable {
    public let configuration: SwallowConfiguration
    public let backend: Backend
    let logger: Logger

    public init(configuration: SwallowConfiguration, logger: Logger) throws {
        try DataDirectory.ensureCertificate(configuration)
        self.configuration = configuration
        self.backend = try Backend.open(configuration)
        self.logger = logger
    }

    /// Protocol listeners come with the MTA and MRA issues; until then `serve` runs the store's
    /// services and says which configured listeners it does not serve yet.
    public func run(announce: @escaping @Sendable (String) -> Void) async throws {
        var services: [any Service] = []
        if let store = backend.sqliteStore {
            services.append(ChangeLogPoller(store: store, logger: logger))
        }
        announce("swallow: \(configuration.server.hostname), data in \(configuration.dataDirectory.path)")
        for (role, addresses) in configuration.listen.all where !addresses.isEmpty {
            announce("swallow: \(role) on \(addresses.map(\.description).joined(separator: ", ")): not served by this build yet")
        }
        // Announced from inside the group, once its signal handlers are installed, so a
        // SIGTERM right after "running" stops the server gracefully.
        services.append(ReadyAnnouncer { announce("swallow: running (SIGTERM or Ctrl-C stops)") })
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        announce("swallow: stopped")
    }
}

/// Says "running" once the service group has started.
struct ReadyAnnouncer: Service {
    let announce: @Sendable () -> Void
    func run() async throws {
        announce()
        try await gracefulShutdown()
    }
}
