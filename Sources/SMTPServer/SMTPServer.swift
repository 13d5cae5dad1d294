import Logging
import NIOCore
import ServerSupport

/// Builds the listener for one SMTP role (smtp, submission, submissions, lmtp) on the
/// connection core.
public enum SMTPServer {
    public static func listener(configuration: SMTPServerConfiguration, addresses: [(host: String, port: Int)],
                                services: SMTPServices, limiter: ConnectionLimiter, registry: ConnectionRegistry,
                                shutdownGrace: Duration, group: any EventLoopGroup) -> TCPListener {
        let implicitTLS = configuration.role == .submissions
        let policy = ConnectionPolicy(
            idleTimeout: configuration.idleTimeout,
            loginTimeout: configuration.role.requiresAuthentication ? configuration.loginTimeout : nil,
            outputStallTimeout: configuration.outputStallTimeout,
            maxBufferedInput: configuration.maxBufferedInput, implicitTLS: implicitTLS)
        return TCPListener.serving(
            name: configuration.role.rawValue, addresses: addresses, policy: policy, limiter: limiter,
            registry: registry, shutdownGrace: shutdownGrace, group: group, logger: services.logger
        ) { ip in
            SMTPDriver(session: SMTPSession(configuration: configuration, clientIP: ip, tlsAvailable: registry.tls != nil,
                                            tlsActive: implicitTLS),
                       services: services)
        }
    }
}
