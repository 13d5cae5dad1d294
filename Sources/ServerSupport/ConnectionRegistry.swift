import NIOCore
import NIOSSL
import Synchronization
import Metrics

/// The connections of one listener, so that a graceful shutdown can reach them, and what they
/// share (the TLS context).
///
/// Shutdown (DESIGN.md §5 item 7): the listener stops accepting, every connection is told, and
/// each closes with its protocol's farewell as soon as it is between commands; a command in
/// progress (a message being committed, a FETCH being written) finishes first. After the grace
/// period whatever is still open is closed.
public final class ConnectionRegistry: Sendable {
    /// Sent through each connection's pipeline when the server shuts down.
    struct ShutdownEvent: Sendable {}

    /// The context new handshakes use; replaced by a reload (SIGHUP) without touching
    /// connections already encrypted.
    public var tls: NIOSSLContext? { tlsContext.withLock { $0 } }
    private let tlsContext: Mutex<NIOSSLContext?>
    /// The listener's name (smtp, imaps, …) in metrics.
    public let name: String
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    public init(tls: NIOSSLContext?, name: String = "") {
        self.tlsContext = Mutex(tls)
        self.name = name
    }

    /// New connections and STARTTLS use `context` from now on (a renewed certificate).
    public func replaceTLS(_ context: NIOSSLContext) {
        tlsContext.withLock { $0 = context }
    }

    public var count: Int { channels.withLock { $0.count } }

    func add(_ channel: any Channel) {
        Counter(label: "swallow_connections_total", dimensions: [("listener", name)]).increment()
        channels.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func remove(_ channel: any Channel) {
        _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Tells every connection to close once it is between commands.
    public func announceShutdown() {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ShutdownEvent()) }
        }
    }

    /// Asks every connection to finish, waits up to `grace` for them, then closes the rest.
    public func shutdown(grace: Duration) async {
        announceShutdown()
        let deadline = ContinuousClock.now + grace
        while count > 0, ContinuousClock.now < deadline {
            // Cancelled (the service group gave up waiting): close now rather than spin.
            do { try await Task.sleep(for: .milliseconds(50)) } catch { break }
        }
        for channel in channels.withLock({ Array($0.values) }) {
            try? await channel.close()
        }
    }
}
