import Admin
import Foundation
import MailAuthentication
import MailCore
import MailQueue
import Metrics
import NIOCore
import NIOSSL
import Prometheus
import ServerSupport
import ServiceLifecycle
import Synchronization

extension Runtime {
    /// The process's metrics, exported on /metrics. swift-metrics is bootstrapped once per
    /// process, the first time this is read (`serve` reads it before anything counts).
    static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Seconds, from a millisecond commit to a remote delivery after hours of retries.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500),
            .seconds(1), .seconds(5), .seconds(30), .seconds(120), .seconds(600), .seconds(3600), .seconds(6 * 3600),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// The admin listener's services (one HTTP application per `listen.admin` address). Each
    /// opens the latch once bound, after printing `swallow: admin on ADDRESS`.
    func makeAdminServices(queue: OutboundQueue, trace: MessageTrace?, metrics: PrometheusCollectorRegistry,
                           registries: [String: ConnectionRegistry], started: Date, listening: [String: Int],
                           certificate: ServingCertificate, latch: ReadyLatch,
                           announce: @escaping @Sendable (String) -> Void) throws -> [any Service] {
        let config = configuration
        let accounts: AdminAccounts
        do {
            accounts = try AdminAccounts(path: config.dataFile("admin.sqlite"))
        } catch {
            throw ConfigurationError(file: config.sourcePath, key: "listen.admin", message: "cannot open admin.sqlite: \(error)")
        }
        let administration = Administration(directory: backend.directory, store: backend.store, queue: queue, trace: trace,
                                            dkim: DKIMKeyring(directory: config.dkimDirectory),
                                            hostname: config.server.hostname, scramIterations: config.auth.scramIterations)
        let listeners = config.listen.all.filter { $0.0 != "admin" }.flatMap { name, addresses in
            addresses.map { ServerStatus.Listener(name: name, address: HostPort(host: $0.host, port: $0.port == 0 ? listening[name] ?? 0 : $0.port).description) }
        }
        // The admin listener's own addresses are known once its applications have bound them.
        let adminBound = Mutex<[ServerStatus.Listener]>([])
        let hostname = config.server.hostname
        let dataDirectory = config.dataDirectory.path
        let directory = backend.directory
        let dependencies = AdminServer.Dependencies(
            administration: administration, accounts: accounts, metrics: metrics,
            status: {
                ServerStatus(version: SwallowVersion.string, hostname: hostname, uptime_seconds: Date().timeIntervalSince(started),
                             listeners: listeners + adminBound.withLock { $0 }, connections: registries.mapValues(\.count))
            },
            readiness: {
                // Writable: the data directory takes new files and the disk has room.
                var checks = ["listeners": true, "data_dir_writable": access(dataDirectory, W_OK) == 0]
                var fs = statvfs()
                if statvfs(dataDirectory, &fs) == 0 { checks["disk_space"] = UInt64(fs.f_bavail) * UInt64(fs.f_frsize) > 16 << 20 }
                checks["store"] = (try? await directory.listDomains()) != nil
                checks["queue"] = (try? await queue.size()) != nil
                return checks
            },
            beforeScrape: {
                for (name, registry) in registries {
                    Gauge(label: "swallow_connections_open", dimensions: [("listener", name)]).record(registry.count)
                }
                if let size = try? await queue.size() {
                    Gauge(label: "swallow_queue_messages").record(size.messages)
                    Gauge(label: "swallow_queue_oldest_age_seconds").record(size.oldest.map { Date().timeIntervalSince($0) } ?? 0)
                }
                Gauge(label: "swallow_uptime_seconds").record(Date().timeIntervalSince(started))
                if let trace { Gauge(label: "swallow_trace_dropped_events").record(trace.droppedEvents) }
            })
        // Counters exist from the start at 0, so a scraper sees a rate from the first event.
        for name in registries.keys {
            Counter(label: "swallow_connections_total", dimensions: [("listener", name)]).increment(by: 0)
        }
        for name in registries.keys where ["smtp", "submission", "submissions", "lmtp"].contains(name) {
            Counter(label: "swallow_messages_accepted_total", dimensions: [("listener", name)]).increment(by: 0)
        }
        for result in ["success", "failure"] { Counter(label: "swallow_auth_total", dimensions: [("result", result)]).increment(by: 0) }
        for place in ["local", "remote"] {
            Counter(label: "swallow_messages_delivered_total", dimensions: [("where", place)]).increment(by: 0)
        }
        Counter(label: "swallow_messages_deferred_total").increment(by: 0)
        Counter(label: "swallow_messages_bounced_total").increment(by: 0)
        let server = AdminServer(dependencies: dependencies, logger: logger)
        // Off loopback the console and API speak HTTPS only, with the server's certificate; each
        // handshake takes the one loaded last (SIGHUP reloads it).
        var tls: TLSConfiguration?
        if config.listen.admin.contains(where: { !AdminServer.isLoopback($0.host) }) {
            var c = TLSConfiguration.makeServerConfiguration(certificateChain: certificate.chain, privateKey: certificate.key)
            c.minimumTLSVersion = .tlsv12
            c.sslContextCallback = { _, promise in promise.succeed(certificate.override) }
            tls = c
        }
        let https = tls != nil
        return try server.applications(addresses: config.listen.admin.map { ($0.host, $0.port) }, tls: tls) { bound in
            let scheme = https && !AdminServer.isLoopback(bound.ipAddress ?? "") ? ", https only" : ""
            adminBound.withLock { $0.append(ServerStatus.Listener(name: "admin", address: Self.describe(bound))) }
            announce("swallow: admin on \(Self.describe(bound))\(scheme)")
            latch.open()
        }
    }
}

/// Opens after `count` calls to `open()`; `wait()` returns then (or when cancelled).
final class ReadyLatch: Sendable {
    private struct State {
        var remaining: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(remaining: count)) }

    func open(all: Bool = false) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.remaining = all ? 0 : s.remaining - 1
            guard s.remaining <= 0 else { return [] }
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { s -> Bool in
                    if s.remaining <= 0 { return true }
                    s.waiters.append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            open(all: true)
        }
    }
}

/// Writes the trace's last events at shutdown.
struct TraceService: Service {
    let trace: MessageTrace
    func run() async throws {
        try? await gracefulShutdown()
        await trace.flush()
    }
}

/// The certificate and key HTTPS handshakes use now: read at start, replaced on SIGHUP.
final class ServingCertificate: Sendable {
    private let current: Mutex<(chain: [NIOSSLCertificateSource], key: NIOSSLPrivateKeySource)>

    init(certificatePath: String, privateKeyPath: String) throws {
        current = Mutex(try Self.read(certificatePath, privateKeyPath))
    }

    var chain: [NIOSSLCertificateSource] { current.withLock { $0.chain } }
    var key: NIOSSLPrivateKeySource { current.withLock { $0.key } }

    var override: NIOSSLContextConfigurationOverride {
        var o = NIOSSLContextConfigurationOverride()
        (o.certificateChain, o.privateKey) = current.withLock { ($0.chain, $0.key) }
        return o
    }

    func reload(certificatePath: String, privateKeyPath: String) throws {
        let fresh = try Self.read(certificatePath, privateKeyPath)
        current.withLock { $0 = fresh }
    }

    private static func read(_ certificatePath: String, _ privateKeyPath: String) throws
        -> (chain: [NIOSSLCertificateSource], key: NIOSSLPrivateKeySource) {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        return (chain.map { .certificate($0) }, .privateKey(key))
    }
}
