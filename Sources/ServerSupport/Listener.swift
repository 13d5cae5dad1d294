import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Binds TCP listeners and runs until graceful shutdown; each accepted connection gets the
/// pipeline `initialize` builds. Shared by the SMTP, LMTP, IMAP and POP3 servers.
public final class TCPListener: Service, Sendable {
    public let name: String
    public let addresses: [(host: String, port: Int)]
    let group: any EventLoopGroup
    let logger: Logger
    let initialize: @Sendable (any Channel) -> EventLoopFuture<Void>
    let bound = Mutex<[any Channel]>([])

    public init(name: String, addresses: [(host: String, port: Int)], group: any EventLoopGroup, logger: Logger,
                initialize: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>) {
        self.name = name
        self.addresses = addresses
        self.group = group
        self.logger = logger
        self.initialize = initialize
    }

    /// Binds every address now (before privileges are dropped); returns the bound addresses,
    /// with the real port when 0 was asked for.
    @discardableResult
    public func bind() async throws -> [SocketAddress] {
        var result: [SocketAddress] = []
        for (host, port) in addresses {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer(initialize)
                .bind(host: host, port: port).get()
            bound.withLock { $0.append(channel) }
            if let address = channel.localAddress { result.append(address) }
        }
        return result
    }

    public func run() async throws {
        if bound.withLock({ $0.isEmpty }) { try await bind() }
        try await gracefulShutdown()
        let channels = bound.withLock { $0 }
        for channel in channels { try? await channel.close() }
        logger.info("\(name) listener closed")
    }
}
