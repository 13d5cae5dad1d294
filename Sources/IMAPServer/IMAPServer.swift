import Logging
import NIOCore
import NIOSSL
import ServerSupport

/// Builds an IMAP listener: `implicitTLS` false for imap (143, STARTTLS), true for imaps (993).
public enum IMAPServer {
    public static func listener(configuration: IMAPServerConfiguration, addresses: [(host: String, port: Int)],
                                services: IMAPServices, group: any EventLoopGroup) -> TCPListener {
        let limiter = ConnectionLimiter(limitPerClient: configuration.limits.maxConnectionsPerClient)
        // The handler decides on each tick whether the login or the session timeout has passed.
        let tick = TimeAmount.seconds(max(1, min(configuration.limits.loginTimeout.components.seconds,
                                                 configuration.limits.idleTimeout.components.seconds)))
        return TCPListener(name: configuration.implicitTLS ? "imaps" : "imap", addresses: addresses, group: group,
                           logger: services.logger) { channel in
            channel.eventLoop.makeCompletedFuture {
                if configuration.implicitTLS {
                    guard let tls = services.tls else { throw ChannelError.inappropriateOperationForState }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                }
                let ip = channel.remoteAddress?.ipAddress ?? "unknown"
                try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: tick))
                try channel.pipeline.syncOperations.addHandler(
                    IMAPConnectionHandler(configuration: configuration, services: services, limiter: limiter, clientIP: ip))
            }
        }
    }
}
