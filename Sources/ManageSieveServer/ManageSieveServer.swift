import Logging
import NIOCore
import ServerSupport

/// The `managesieve` listener (RFC 5804, port 4190) on the connection core: STARTTLS, then
/// SASL, then the script commands.
public enum ManageSieveServer {
    public static func listener(addresses: [(host: String, port: Int)], services: ManageSieveServices, idleTimeout: Duration,
                                loginTimeout: Duration, outputStallTimeout: Duration, limiter: ConnectionLimiter,
                                registry: ConnectionRegistry, shutdownGrace: Duration, group: any EventLoopGroup) -> TCPListener {
        let policy = ConnectionPolicy(idleTimeout: idleTimeout, loginTimeout: loginTimeout, outputStallTimeout: outputStallTimeout,
                                      maxBufferedInput: 2 << 20, implicitTLS: false)
        return TCPListener.serving(
            name: "managesieve", addresses: addresses, policy: policy, limiter: limiter, registry: registry,
            shutdownGrace: shutdownGrace, group: group, logger: services.logger
        ) { _ in
            ManageSieveDriver(services: services, tlsAvailable: registry.tls != nil, tlsActive: false)
        }
    }
}
