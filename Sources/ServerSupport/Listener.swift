import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import NIOSSL
import Synchronization

/// Binds TCP listeners; each accepted connection gets the pipeline `initialize` builds (the
/// connection core with a protocol's driver). `ListenerGroup` runs them as one service.
public final class TCPListener: Sendable {
    public let name: String
    public let addresses: [(host: String, port: Int)]
    public let registry: ConnectionRegistry
    let group: any EventLoopGroup
    let logger: Logger
    let shutdownGrace: Duration
    let initialize: @Sendable (any Channel) -> EventLoopFuture<Void>
    let bound = Mutex<[any Channel]>([])

    public init(name: String, addresses: [(host: String, port: Int)], registry: ConnectionRegistry,
                shutdownGrace: Duration, group: any EventLoopGroup, logger: Logger,
                initialize: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>) {
        self.name = name
        self.addresses = addresses
        self.registry = registry
        self.shutdownGrace = shutdownGrace
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
                // A client's FIN ends its input, not the connection: the replies to what it
                // sent still go out (ConnectionHandler, inputClosed).
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer(initialize)
                .bind(host: host, port: port).get()
            bound.withLock { $0.append(channel) }
            if let address = channel.localAddress { result.append(address) }
        }
        return result
    }

    /// No new connections.
    func stopAccepting() async {
        for channel in bound.withLock({ $0 }) { try? await channel.close() }
    }

    /// Lets the connections finish, up to the grace period (see `ConnectionRegistry`).
    func drain() async {
        let open = registry.count
        if open > 0 { logger.info("\(name): finishing \(open) connection(s)") }
        await registry.shutdown(grace: shutdownGrace)
        logger.info("\(name) listener closed")
    }
}

/// Every listener of the server as one service (DESIGN.md §5 item 7). On graceful shutdown all
/// of them stop accepting first, then their connections finish together: one grace period in
/// all, not one per listener, and no listener still accepting while another drains.
public struct ListenerGroup: Service {
    let listeners: [TCPListener]

    public init(_ listeners: [TCPListener]) {
        self.listeners = listeners
    }

    public func run() async throws {
        for listener in listeners where listener.bound.withLock({ $0.isEmpty }) { try await listener.bind() }
        try? await gracefulShutdown()
        for listener in listeners { await listener.stopAccepting() }
        await withDiscardingTaskGroup { group in
            for listener in listeners { group.addTask { await listener.drain() } }
        }
    }
}

extension TCPListener {
    /// A listener whose connections run `makeDriver`'s protocol on the connection core, with TLS
    /// from the first byte when `policy.implicitTLS`.
    public static func serving<Driver: ConnectionDriver>(
        name: String, addresses: [(host: String, port: Int)], policy: ConnectionPolicy, limiter: ConnectionLimiter,
        registry: ConnectionRegistry, shutdownGrace: Duration, group: any EventLoopGroup, logger: Logger,
        makeDriver: @escaping @Sendable (_ clientIP: String) -> Driver
    ) -> TCPListener {
        TCPListener(name: name, addresses: addresses, registry: registry, shutdownGrace: shutdownGrace,
                    group: group, logger: logger) { channel in
            channel.eventLoop.makeCompletedFuture {
                if policy.implicitTLS {
                    guard let tls = registry.tls else { throw ChannelError.inappropriateOperationForState }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                }
                let ip = channel.remoteAddress?.ipAddress ?? "unknown"
                var connectionLogger = logger
                connectionLogger[metadataKey: "client"] = "\(ip)"
                connectionLogger[metadataKey: "service"] = "\(name)"
                try channel.pipeline.syncOperations.addHandler(ConnectionHandler(
                    driver: makeDriver(ip), policy: policy, limiter: limiter, registry: registry,
                    clientIP: ip, logger: connectionLogger))
            }
        }
    }
}
