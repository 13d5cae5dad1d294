import Delivery
import Filters
import Foundation
import Logging
import MailAuth
import MailQueue
import MailAuthentication
import Admin
import Metrics
import Prometheus
import NIOCore
import NIOPosix
import NIOSSL
import X509
import ServerSupport
import ServiceLifecycle
import IMAPServer
import ManageSieveServer
import MailDNS
import POP3Server
import SMTPServer

/// `swallow serve`: every configured listener and service in one ServiceGroup; SIGTERM and
/// SIGINT drain it gracefully (DESIGN.md §5.7).
public struct Runtime: Sendable {
    public let configuration: SwallowConfiguration
    public let backend: Backend
    let logger: Logger

    public init(configuration: SwallowConfiguration, logger: Logger) throws {
        // Before anything is read or created as root.
        try PrivilegeDrop.checkOwnership(configuration)
        try DataDirectory.ensureCertificate(configuration)
        self.configuration = configuration
        self.backend = try Backend.open(configuration)
        self.logger = logger
    }

    public func run(announce: @escaping @Sendable (String) -> Void) async throws {
        let config = configuration
        let tls: NIOSSLContext
        do {
            tls = try TLSSetup.serverContext(certificatePath: config.certificatePath, privateKeyPath: config.privateKeyPath)
        } catch {
            throw ConfigurationError(file: config.sourcePath, key: "tls.certificate",
                                     message: "cannot load '\(config.certificatePath)' / '\(config.privateKeyPath)': \(error)")
        }
        let smarthostTrust = try smarthostTrustRoots()
        if config.delivery.usesFiles && !config.server.user.isEmpty {
            throw ConfigurationError(file: config.sourcePath, key: "delivery.target",
                                     message: "mbox and Maildir targets write files owned by each user, which needs root: leave server.user empty")
        }
        var systemUsers = SystemUserTable.Configuration()
        systemUsers.minimumUID = UInt32(clamping: config.auth.systemUsersMinimumUID)
        let directory: any DirectoryAdministration = config.auth.systemUsers
            ? SystemUserDirectory(base: backend.directory, table: SystemUserTable(systemUsers), hostname: config.server.hostname)
            : backend.directory
        let queue: OutboundQueue
        do {
            queue = try OutboundQueue(path: config.dataFile("queue.sqlite"))
        } catch {
            throw ConfigurationError(file: config.sourcePath, key: "server.data_dir", message: "cannot open the queue: \(error)")
        }
        let metrics = Self.metrics
        let started = Date()
        let trace: MessageTrace?
        do {
            trace = try config.openTrace()
        } catch {
            throw ConfigurationError(file: config.sourcePath, key: "trace.retention_days", message: "cannot open the trace: \(error)")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let trusted = config.relay.trustedNetworks
        let limits = config.limits
        var authConfiguration = Authenticator.Configuration()
        authConfiguration.maxFailuresPerConnection = config.auth.maxFailuresPerConnection
        authConfiguration.sasl = SASLServer.Configuration(unknownUserIterations: config.auth.scramIterations)
        // One authenticator (and so one throttle and one hashing pool) for every protocol: guessing
        // over IMAP slows POP3 and SMTP AUTH from the same address too.
        let authenticator = Authenticator(directory: directory, configuration: authConfiguration)
        // One limiter for every listener: the total and per-client caps are the process's.
        let limiter = ConnectionLimiter(limitPerClient: limits.maxConnectionsPerClient, limitTotal: limits.maxConnections)
        let grace = Duration.seconds(limits.shutdownGrace)
        // Each listener's connections, by listener name: for shutdown, /metrics and /api/status.
        var registries: [String: ConnectionRegistry] = [:]
        func registry(_ name: String) -> ConnectionRegistry {
            let registry = ConnectionRegistry(tls: tls, name: name)
            registries[name] = registry
            return registry
        }
        let sieve = SieveFiltering(scripts: backend.scripts, store: backend.store, queue: queue, hostname: config.server.hostname,
                                   before: try config.sieveBefore.map { try Self.globalSieveScript(config.dataFile($0), config: config) })
        let quotaWarning = QuotaWarning(store: backend.store, percent: config.quota.warningPercent, hostname: config.server.hostname)
        let spool = config.delivery.usesFiles
            ? MailSpool(configuration: config.delivery, users: SystemUserTable(systemUsers), hostname: config.server.hostname) : nil
        let localDelivery = LocalDeliveryAgent(committer: GroupCommitter(store: backend.store), trace: trace, sieve: sieve,
                                               quotaWarning: quotaWarning, spool: spool)
        var services = SMTPServices(authenticator: authenticator, store: backend.store, localDelivery: localDelivery,
                                    queue: queue, logger: logger, trace: trace, dkim: DKIMKeyring(directory: config.dkimDirectory))
        services.inbound = inboundAuthentication()
        services.filters = config.filters.isEmpty ? nil : ContentFilters(config.filters)
        services.hostname = config.server.hostname
        services.quotaFullTempfail = config.quota.fullTempfail

        var services_: [any Service] = []
        var listeners: [TCPListener] = []
        var served: Set<String> = []
        var boundPorts: [String: Int] = [:]
        var mxListeners: [SocketAddress] = []
        let smtpRoles: [(SMTPRole, [HostPort])] = [
            (.mx, config.listen.smtp), (.submission, config.listen.submission),
            (.submissions, config.listen.submissions), (.lmtp, config.listen.lmtp),
        ]
        for (role, addresses) in smtpRoles where !addresses.isEmpty {
            var smtp = SMTPServerConfiguration(role: role, hostname: config.server.hostname)
            smtp.allowPlaintextWithoutTLS = config.auth.allowPlaintextWithoutTLS
            smtp.tlsAuthOnly = config.auth.tlsAuthOnly
            smtp.maxMessageSize = limits.maxMessageSize
            smtp.maxRecipients = limits.maxRecipients
            smtp.maxCommandLineLength = limits.smtpMaxLineLength
            smtp.idleTimeout = .seconds(limits.smtpIdleTimeout)
            smtp.loginTimeout = .seconds(limits.loginTimeout)
            smtp.outputStallTimeout = .seconds(limits.outputStallTimeout)
            smtp.isTrustedClient = { ip in
                guard let address = IPAddress(ip) else { return false }
                return trusted.contains { $0.contains(address) }
            }
            let listener = SMTPServer.listener(configuration: smtp, addresses: addresses.map { ($0.host, $0.port) },
                                               services: services, limiter: limiter, registry: registry(role.rawValue),
                                               shutdownGrace: grace, group: group)
            let bound = try await bind(listener, name: role.rawValue, addresses: addresses, ports: &boundPorts, announce: announce)
            if role == .mx { mxListeners = bound }
            listeners.append(listener)
            served.insert(role.rawValue)
        }
        var imapServices = IMAPServices(authenticator: authenticator, store: backend.store, recent: RecentTracker(),
                                        tlsAvailable: true, logger: logger)
        imapServices.quotaAdministration = directory
        let store = backend.store
        var collect: (@Sendable (Account, Logger) async -> Void)?
        if let spool {
            collect = { @Sendable account, logger in await spool.collect(account, into: store, logger: logger) }
        }
        imapServices.collectSpool = collect
        imapServices.quotaAdmins = Set(config.quota.admins)
        for (name, addresses, implicitTLS) in [("imap", config.listen.imap, false), ("imaps", config.listen.imaps, true)]
        where !addresses.isEmpty {
            var imap = IMAPServerConfiguration(hostname: config.server.hostname, implicitTLS: implicitTLS)
            imap.allowPlaintextWithoutTLS = config.auth.allowPlaintextWithoutTLS
            imap.tlsAuthOnly = config.auth.tlsAuthOnly
            imap.limits.maxLineLength = limits.imapMaxLineLength
            imap.limits.preLoginLiteralSize = limits.imapPreLoginLiteralSize
            imap.limits.idleTimeout = .seconds(limits.imapIdleTimeout)
            imap.limits.loginTimeout = .seconds(limits.loginTimeout)
            imap.limits.outputStallTimeout = .seconds(limits.outputStallTimeout)
            imap.limits.maxAuthenticationFailures = config.auth.maxFailuresPerConnection
            let listener = IMAPServer.listener(configuration: imap, addresses: addresses.map { ($0.host, $0.port) },
                                               services: imapServices, limiter: limiter, registry: registry(name),
                                               shutdownGrace: grace, group: group)
            try await bind(listener, name: name, addresses: addresses, ports: &boundPorts, announce: announce)
            listeners.append(listener)
            served.insert(name)
        }
        // POP3 (RFC 1939): STLS on listen.pop3, implicit TLS on listen.pop3s.
        var pop3Services = POP3Services(authenticator: authenticator, store: backend.store, logger: logger)
        pop3Services.collectSpool = collect
        for (name, addresses, implicitTLS) in [("pop3", config.listen.pop3, false), ("pop3s", config.listen.pop3s, true)]
        where !addresses.isEmpty {
            var pop3 = POP3ServerConfiguration(hostname: config.server.hostname, implicitTLS: implicitTLS)
            pop3.allowPlaintextWithoutTLS = config.auth.allowPlaintextWithoutTLS
            pop3.tlsAuthOnly = config.auth.tlsAuthOnly
            pop3.maxCommandLineLength = limits.pop3MaxLineLength
            pop3.idleTimeout = .seconds(limits.pop3IdleTimeout)
            pop3.loginTimeout = .seconds(limits.loginTimeout)
            pop3.outputStallTimeout = .seconds(limits.outputStallTimeout)
            pop3.maxAuthenticationFailures = config.auth.maxFailuresPerConnection
            let listener = POP3Server.listener(configuration: pop3, addresses: addresses.map { ($0.host, $0.port) },
                                               services: pop3Services, limiter: limiter, registry: registry(name),
                                               shutdownGrace: grace, group: group)
            try await bind(listener, name: name, addresses: addresses, ports: &boundPorts, announce: announce)
            listeners.append(listener)
            served.insert(name)
        }
        // ManageSieve (RFC 5804): STARTTLS, SASL, users' Sieve scripts.
        if !config.listen.managesieve.isEmpty {
            let services = ManageSieveServices(
                authenticator: authenticator, scripts: backend.scripts,
                policy: AuthenticationPolicy(allowPlaintextWithoutTLS: config.auth.allowPlaintextWithoutTLS, tlsAuthOnly: config.auth.tlsAuthOnly),
                logger: logger)
            let listener = ManageSieveServer.listener(
                addresses: config.listen.managesieve.map { ($0.host, $0.port) }, services: services,
                idleTimeout: .seconds(limits.pop3IdleTimeout), loginTimeout: .seconds(limits.loginTimeout),
                outputStallTimeout: .seconds(limits.outputStallTimeout), limiter: limiter, registry: registry("managesieve"),
                shutdownGrace: grace, group: group)
            try await bind(listener, name: "managesieve", addresses: config.listen.managesieve, ports: &boundPorts, announce: announce)
            listeners.append(listener)
            served.insert("managesieve")
        }
        let certificate = try ServingCertificate(certificatePath: config.certificatePath, privateKeyPath: config.privateKeyPath)
        // The admin listener is bound by its service once the group runs; "running" waits for it.
        let adminBound = ReadyLatch(count: config.listen.admin.count)
        var adminServices: [any Service] = []
        if !config.listen.admin.isEmpty {
            let knownRegistries = registries
            let listening = boundPorts
            adminServices = try makeAdminServices(
                queue: queue, trace: trace, metrics: metrics, registries: knownRegistries, started: started,
                listening: listening, certificate: certificate, latch: adminBound, announce: announce)
            served.insert("admin")
        }
        try PrivilegeDrop.drop(to: config.server.user, config: config)
        if geteuid() == 0 {
            logger.warning("running as root without server.user: every listener and the queue keep root's privileges; set [server] user")
        }
        if let store = backend.sqliteStore {
            services_.append(ChangeLogPoller(store: store, logger: logger))
        }
        let myself = LocalHost(hostname: config.server.hostname, listeners: mxListeners)
        services_.append(QueueService(runner: makeQueueRunner(queue: queue, services: services, group: group, myself: myself,
                                                              smarthostTrust: smarthostTrust, trace: trace)))
        if let trace { services_.append(TraceService(trace: trace)) }
        announce("swallow: \(config.server.hostname), data in \(config.dataDirectory.path)")
        // What a user needs to set up a client and to check the certificate it is shown.
        for line in ServerSummary(configuration: config, boundPorts: boundPorts).lines { announce("swallow: " + line) }
        for (role, addresses) in config.listen.all where !addresses.isEmpty && !served.contains(role) {
            announce("swallow: \(role) on \(addresses.map(\.description).joined(separator: ", ")): not served by this build yet")
        }
        // Announced from inside the group, once its signal handlers are installed, so a
        // SIGTERM right after "running" stops the server gracefully.
        // Shut down in reverse order: the listeners first (no new mail while the rest stops),
        // then the queue's transactions in progress.
        services_.append(ListenerGroup(listeners))
        services_ += adminServices
        services_.append(ReloadService(configuration: config, registries: Array(registries.values), certificate: certificate,
                                       logger: logger, announce: announce))
        services_.append(ReadyAnnouncer(ready: adminBound) { announce("swallow: running (SIGTERM or Ctrl-C stops)") })
        let serviceGroup = ServiceGroup(configuration: .init(
            services: services_.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await serviceGroup.run()
        announce("swallow: stopped")
    }

    /// Binds before privileges are dropped and says where; a failure names the config key.
    @discardableResult
    private func bind(_ listener: TCPListener, name: String, addresses: [HostPort], ports: inout [String: Int],
                      announce: @Sendable (String) -> Void) async throws -> [SocketAddress] {
        let bound: [SocketAddress]
        do {
            bound = try await listener.bind()
        } catch {
            throw ConfigurationError(file: configuration.sourcePath, key: "listen.\(name)",
                                     message: "cannot listen on \(addresses.map(\.description).joined(separator: ", ")): \(error)")
        }
        announce("swallow: \(name) on \(bound.map(Self.describe).joined(separator: ", "))")
        ports[name] = bound.first?.port
        return bound
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

extension Runtime {
    /// `relay.smarthost_ca_file`, read at start (as root, before privileges are dropped), so a
    /// file that is missing or holds no certificate is a configuration error, not a deferral.
    func smarthostTrustRoots() throws -> NIOSSLTrustRoots {
        guard let path = configuration.smarthostCAPath else { return .default }
        do {
            let certificates = try NIOSSLCertificate.fromPEMFile(path)
            guard !certificates.isEmpty else { throw FileIO.Failure(path: path, operation: "read (no certificate)", code: EINVAL) }
            return .certificates(certificates)
        } catch {
            throw ConfigurationError(file: configuration.sourcePath, key: "relay.smarthost_ca_file",
                                     message: "cannot load CA certificates from '\(path)': \(error)")
        }
    }

    /// Outbound delivery: routing from `[transport]` and `[relay] smarthost`, MX lookups through
    /// `[dns] nameservers` (or /etc/resolv.conf), retries and deadlines from `[queue]`.
    func makeQueueRunner(queue: OutboundQueue, services: SMTPServices, group: any EventLoopGroup, myself: LocalHost,
                         smarthostTrust: NIOSSLTrustRoots, trace: MessageTrace?) -> QueueRunner {
        let config = configuration
        let dns = config.resolverConfiguration
        var queueConfiguration = QueueRunner.Configuration(hostname: config.server.hostname)
        queueConfiguration.minimumBackoff = .seconds(config.queue.minBackoff)
        queueConfiguration.maximumBackoff = .seconds(config.queue.maxBackoff)
        queueConfiguration.maximumLifetime = .seconds(config.queue.maxLifetime)
        queueConfiguration.myself = myself
        queueConfiguration.delayWarning = config.queue.delayWarning > 0 ? .seconds(config.queue.delayWarning) : nil
        queueConfiguration.activeLimit = config.queue.activeLimit
        queueConfiguration.scheduling.maximumTotal = config.queue.maxConnections
        queueConfiguration.scheduling.maximumPerDestination = config.queue.destinationConcurrency
        queueConfiguration.scheduling.initialConcurrency = config.queue.initialConcurrency
        queueConfiguration.scheduling.deadAfterFailures = config.queue.deadAfterFailures
        queueConfiguration.scheduling.deadTime = TimeInterval(config.queue.minBackoff)
        queueConfiguration.connectionIdleTime = .seconds(config.queue.connectionCacheTime)
        queueConfiguration.connectionReuseLimit = config.queue.connectionReuseLimit
        queueConfiguration.recipientsPerTransaction = config.queue.recipientLimit
        let routing = Routing(
            transport: config.transport.mapValues { Routing.Hop(host: $0.host, port: $0.port) },
            smarthost: config.relay.smarthost.map { Routing.Hop(host: $0.host, port: $0.port) })
        var clientConfiguration = SMTPClient.Configuration(heloName: config.server.hostname)
        clientConfiguration.commandTimeout = .seconds(config.queue.commandTimeout)
        clientConfiguration.connectTimeout = min(clientConfiguration.connectTimeout, clientConfiguration.commandTimeout)
        clientConfiguration.dataTimeout = .seconds(config.queue.dataTimeout)
        let client = SMTPClient(configuration: clientConfiguration, group: group)
        var smarthost: SMTPClient? = nil
        if !config.relay.smarthostUser.isEmpty {
            // AUTH PLAIN carries the password itself (RFC 4616): only to a host whose certificate
            // proves its name (RFC 6125).
            var c = clientConfiguration
            c.tls = .required(verify: true)
            c.trustRoots = smarthostTrust
            c.credentials = (config.relay.smarthostUser, config.relay.smarthostPassword)
            smarthost = SMTPClient(configuration: c, group: group)
        }
        return QueueRunner(configuration: queueConfiguration, queue: queue, routing: routing,
                           resolver: DNSMailHosts(resolver: DNSResolver(configuration: dns, logger: logger)),
                           client: client, smarthostClient: smarthost, directory: services.directory,
                           localDelivery: services.localDelivery, logger: logger, trace: trace)
    }
}

/// The queue runner as a service. Graceful shutdown stops it taking new work, and waits for
/// the transactions in progress and their records: cancelling them could lose a remote 250
/// and send the message again after the restart.
struct QueueService: Service {
    let runner: QueueRunner
    func run() async throws {
        await withGracefulShutdownHandler {
            await runner.run()
        } onGracefulShutdown: {
            runner.stop()
        }
    }
}

/// Says "running" once the service group has started and the admin listener is bound.
struct ReadyAnnouncer: Service {
    let ready: ReadyLatch
    let announce: @Sendable () -> Void
    func run() async throws {
        await ready.wait()
        guard !Task.isCancelled else { return }
        announce()
        try await gracefulShutdown()
    }
}

extension SwallowConfiguration {
    /// `[dns] nameservers`, or /etc/resolv.conf when none are configured.
    public var resolverConfiguration: ResolverConfiguration {
        guard !dns.nameservers.isEmpty else { return .fromResolvConf() }
        var resolver = ResolverConfiguration()
        resolver.nameservers = dns.nameservers.compactMap { hp in InternetAddress(hp.host).map { Nameserver(address: $0, port: hp.port) } }
        return resolver
    }

    /// The server certificate (the first of `tls.certificate`) as DER and parsed, or nil when it
    /// cannot be read.
    func certificate() -> (der: [UInt8], parsed: Certificate)? {
        guard let der = try? NIOSSLCertificate.fromPEMFile(certificatePath).first?.toDERBytes(),
              let parsed = try? Certificate(derEncoded: der) else { return nil }
        return (der, parsed)
    }
}
