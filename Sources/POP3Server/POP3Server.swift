import Logging
import NIOCore
import ServerSupport

/// Builds the listener for `pop3` (STLS, RFC 2595) or `pop3s` (implicit TLS, RFC 8314) —
/// `configuration.implicitTLS` decides which — on the connection core.
public enum POP3Server {
    public static func listener(configuration: POP3ServerConfiguration, addresses: [(host: String, port: Int)],
                                services: POP3Services, limiter: ConnectionLimiter, registry: ConnectionRegistry,
                                shutdownGrace: Duration, group: any EventLoopGroup) -> TCPListener {
        TCPListener.serving(
            name: configuration.serviceName, addresses: addresses, policy: configuration.connectionPolicy,
            limiter: limiter, registry: registry, shutdownGrace: shutdownGrace, group: group, logger: services.logger
        ) { ip in
            POP3Driver(session: POP3Session(configuration: configuration, clientIP: ip, tlsAvailable: registry.tls != nil,
                                            tlsActive: configuration.implicitTLS),
                       services: services)
        }
    }
}

extension POP3ServerConfiguration {
    var connectionPolicy: ConnectionPolicy {
        ConnectionPolicy(idleTimeout: idleTimeout, loginTimeout: loginTimeout, outputStallTimeout: outputStallTimeout,
                         maxBufferedInput: maxBufferedInput, implicitTLS: implicitTLS)
    }
}
