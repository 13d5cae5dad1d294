import Logging
import NIOCore
import NIOSSL
import ServerSupport

/// Builds the listener for one SMTP role (smtp, submission, submissions, lmtp).
public enum SMTPServer {
    public static func listener(configuration: SMTPServerConfiguration, addresses: [(host: String, port: Int)],
                                services: SMTPServices, group: any EventLoopGroup) -> TCPListener {
        let limiter = ConnectionLimiter(limitPerClient: configuration.maxConnectionsPerClient)
        let idle = TimeAmount.nanoseconds(Int64(configuration.idleTimeout.components.seconds) * 1_000_000_000)
        return TCPListener(name: configuration.role.rawValue, addresses: addresses, group: group, logger: services.logger) { channel in
            channel.eventLoop.makeCompletedFuture {
                let implicitTLS = configuration.role == .submissions
                if implicitTLS {
                    guard let tls = services.tls else { throw ChannelError.inappropriateOperationForState }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                }
                let ip = channel.remoteAddress?.ipAddress ?? "unknown"
                let session = SMTPSession(configuration: configuration, clientIP: ip,
                                          tlsAvailable: services.tls != nil, tlsActive: implicitTLS)
                try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                try channel.pipeline.syncOperations.addHandler(SMTPConnectionHandler(session: session, services: services, limiter: limiter))
            }
        }
    }
}
