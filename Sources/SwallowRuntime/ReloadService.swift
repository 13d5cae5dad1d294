import Logging
import NIOSSL
import ServerSupport
import ServiceLifecycle
import UnixSignals

/// SIGHUP (`systemctl reload swallow`): the certificate and key are read again and used for
/// every new connection, STARTTLS and admin HTTPS handshake; connections already open keep theirs, nothing is dropped.
/// Users, domains, aliases, admins and the queue need no reload (every command reads them live).
/// Every other setting is compared with the running configuration and each change that needs
/// a restart is named in the log.
struct ReloadService: Service {
    let configuration: SwallowConfiguration
    let registries: [ConnectionRegistry]
    /// The admin listener's HTTPS certificate.
    let certificate: ServingCertificate
    let logger: Logger
    /// Also told, so that `serve`'s output shows the reload.
    let announce: @Sendable (String) -> Void

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            for await _ in signals.cancelOnGracefulShutdown() { reload() }
        } onGracefulShutdown: {}
    }

    func reload() {
        let fresh: SwallowConfiguration
        do {
            fresh = try SwallowConfiguration.load(path: configuration.sourcePath)
        } catch {
            logger.error("reload refused: the configuration does not load; still running on the old one", metadata: ["error": "\(error)"])
            return announce("swallow: reload refused: \(error)")
        }
        do {
            let context = try TLSSetup.serverContext(certificatePath: fresh.certificatePath, privateKeyPath: fresh.privateKeyPath)
            try certificate.reload(certificatePath: fresh.certificatePath, privateKeyPath: fresh.privateKeyPath)
            for registry in registries { registry.replaceTLS(context) }
        } catch {
            logger.error("reload: cannot load the certificate; keeping the old one", metadata: ["error": "\(error)"])
            return announce("swallow: reload: cannot load the certificate, keeping the old one: \(error)")
        }
        var restart: [String] = []
        if fresh.server != configuration.server { restart.append("[server]") }
        if fresh.listen != configuration.listen { restart.append("[listen]") }
        if fresh.auth != configuration.auth { restart.append("[auth]") }
        if fresh.limits != configuration.limits { restart.append("[limits]") }
        if fresh.relay != configuration.relay { restart.append("[relay]") }
        if fresh.dns != configuration.dns { restart.append("[dns]") }
        if fresh.transport != configuration.transport { restart.append("[transport]") }
        if fresh.queue != configuration.queue { restart.append("[queue]") }
        if fresh.store != configuration.store { restart.append("[store]") }
        if fresh.log != configuration.log { restart.append("[log]") }
        if fresh.trace != configuration.trace { restart.append("[trace]") }
        let pending = restart.isEmpty ? "" : "; changed and applied only after a restart: \(restart.joined(separator: ", "))"
        logger.notice("reloaded: certificate\(pending)")
        announce("swallow: reloaded certificate \(fresh.certificatePath)\(pending)")
    }
}
