import Logging
import NIOCore
import NIOSSL
import ServerSupport

/// Builds the listener for `pop3` (STLS, RFC 2595) or `pop3s` (implicit TLS, RFC 8314) —
/// `configuration.implicitTLS` decides which.
public enum POP3Server {
    public static func listener(configuration: POP3ServerConfiguration, addresses: [(host: String, port: Int)],
                                services: POP3Services, group: any EventLoopGroup) -> TCPListener {
        let limiter = ConnectionLimiter(limitPerClient: configuration.maxConnectionsPerClient)
        return TCPListener(name: configuration.serviceName, addresses: addresses, group: group, logger: services.logger) { channel in
            channel.eventLoop.makeCompletedFuture {
                try configure(channel, configuration: configuration, services: services, limiter: limiter)
            }
        }
    }

    /// The pipeline of one accepted connection: TLS first for `pop3s`, the idle timer, the
    /// protocol handler.
    static func configure(_ channel: any Channel, configuration: POP3ServerConfiguration, services: POP3Services,
                          limiter: ConnectionLimiter) throws {
        if configuration.implicitTLS {
            guard let tls = services.tls else { throw ChannelError.inappropriateOperationForState }
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
        }
        let ip = channel.remoteAddress?.ipAddress ?? "unknown"
        let session = POP3Session(configuration: configuration, clientIP: ip,
                                  tlsAvailable: services.tls != nil, tlsActive: configuration.implicitTLS)
        let idle = TimeAmount.nanoseconds(Int64(configuration.idleTimeout.components.seconds) * 1_000_000_000)
        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
        try channel.pipeline.syncOperations.addHandler(POP3ConnectionHandler(session: session, services: services, limiter: limiter))
    }
}
