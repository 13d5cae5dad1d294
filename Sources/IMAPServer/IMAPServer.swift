import Logging
import NIOCore
import ServerSupport

/// Builds an IMAP listener on the connection core: `implicitTLS` false for imap (143,
/// STARTTLS), true for imaps (993).
public enum IMAPServer {
    public static func listener(configuration: IMAPServerConfiguration, addresses: [(host: String, port: Int)],
                                services: IMAPServices, limiter: ConnectionLimiter, registry: ConnectionRegistry,
                                shutdownGrace: Duration, group: any EventLoopGroup) -> TCPListener {
        let policy = ConnectionPolicy(
            idleTimeout: configuration.limits.idleTimeout, loginTimeout: configuration.limits.loginTimeout,
            outputStallTimeout: configuration.limits.outputStallTimeout,
            maxBufferedInput: configuration.limits.maxBufferedInput, implicitTLS: configuration.implicitTLS)
        var services = services
        services.tlsAvailable = registry.tls != nil
        let listenerServices = services
        return TCPListener.serving(
            name: configuration.implicitTLS ? "imaps" : "imap", addresses: addresses, policy: policy, limiter: limiter,
            registry: registry, shutdownGrace: shutdownGrace, group: group, logger: services.logger
        ) { ip in
            IMAPDriver(configuration: configuration, services: listenerServices, clientIP: ip)
        }
    }
}
