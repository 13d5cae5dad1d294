import Logging
import NIOCore
import NIOSSL
import Synchronization

/// An open SMTP session to one next hop that carries one transaction at a time, for as long as
/// its owner keeps it (the connection cache reuses it for the next message to that host).
///
/// The channel belongs to one task (NIOAsyncChannel's `executeThenClose` scope); transactions
/// are handed to it one by one, and `close()` ends the scope after QUIT.
public final class OutboundConnection: Sendable {
    struct Request: Sendable {
        let envelope: SMTPClient.Envelope
        let reply: CheckedContinuation<Sent, Never>
    }

    /// One transaction's result.
    public struct Sent: Sendable {
        public var outcomes: [(recipient: String, outcome: SMTPClient.Outcome)]
        /// The session can carry another transaction.
        public var usable: Bool
        /// The connection had been closed by the peer before this transaction got any answer:
        /// nothing was delivered; send again on a new connection.
        public var stale: Bool
        /// Recipients the peer had no room for in this transaction (452 while others were
        /// accepted): send them in the next one.
        public var retryNextTransaction: Set<String> = []
        public var transcript: [String]
    }

    private let requests: AsyncStream<Request>.Continuation
    private let state = Mutex(State())
    public let hostDescription: String

    private struct State {
        var usedTLS = false
        var closed = false
    }

    public var usedTLS: Bool { state.withLock { $0.usedTLS } }

    private init(requests: AsyncStream<Request>.Continuation, hostDescription: String) {
        self.requests = requests
        self.hostDescription = hostDescription
    }

    static func start(channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, configuration: SMTPClient.Configuration,
                      serverName: String, hostDescription: String,
                      tlsContext: @escaping @Sendable (Bool) throws -> NIOSSLContext, logger: Logger) async -> SMTPClient.Opened {
        let (stream, continuation) = AsyncStream<Request>.makeStream()
        let connection = OutboundConnection(requests: continuation, hostDescription: hostDescription)
        return await withCheckedContinuation { (opened: CheckedContinuation<SMTPClient.Opened, Never>) in
            Task {
                var reported = false
                do {
                    try await channel.executeThenClose { inbound, outbound in
                        var wire = Connection(channel: channel.channel, inbound: inbound.makeAsyncIterator(), outbound: outbound)
                        var session = ClientSession(configuration: configuration, serverName: serverName, logger: logger)
                        do {
                            try await session.open(&wire, tlsContext: tlsContext)
                        } catch let failure as ClientSession.OpenFailure {
                            reported = true
                            opened.resume(returning: .failed(failure.outcome, reachedPeer: failure.reachedPeer))
                            await session.quit(&wire)
                            return
                        }
                        connection.state.withLock { $0.usedTLS = session.usedTLS }
                        reported = true
                        opened.resume(returning: .ready(connection))
                        for await request in stream {
                            let before = session.transcript.count
                            let result = await session.transaction(request.envelope, &wire, hostDescription: hostDescription)
                            request.reply.resume(returning: Sent(outcomes: result.outcomes, usable: result.usable, stale: result.stale,
                                                                 retryNextTransaction: result.retryNextTransaction,
                                                                 transcript: Array(session.transcript[before...])))
                            if !result.usable { break }
                        }
                        connection.markClosed()
                        await session.quit(&wire)
                    }
                } catch {
                    if !reported {
                        opened.resume(returning: .failed(.temporary("\(hostDescription): \(error)"), reachedPeer: false))
                    }
                }
                connection.markClosed()
                // Requests that raced with the end of the session get a stale answer, so they
                // are sent again elsewhere.
                for await request in stream {
                    request.reply.resume(returning: Sent(outcomes: request.envelope.recipients.map {
                        ($0, .temporary("\(hostDescription): connection closed"))
                    }, usable: false, stale: true, transcript: []))
                }
            }
        }
    }

    private func markClosed() {
        let first = state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        if first { requests.finish() }
    }

    /// Runs one transaction on this session.
    public func send(_ envelope: SMTPClient.Envelope) async -> Sent {
        await withCheckedContinuation { continuation in
            if case .terminated = requests.yield(Request(envelope: envelope, reply: continuation)) {
                continuation.resume(returning: Sent(outcomes: envelope.recipients.map {
                    ($0, .temporary("\(hostDescription): connection closed"))
                }, usable: false, stale: true, transcript: []))
            }
        }
    }

    /// QUIT and close, after the transaction in progress (if any).
    public func close() {
        markClosed()
    }
}
