import Foundation
import Logging
import MailAuth
import MailCore
import MailQueue
import MailStore
import Synchronization

/// The queue manager (Postfix's qmgr is the model): takes due messages from the durable queue,
/// routes each recipient's domain, delivers recipients for the same destination in one SMTP
/// transaction, retries temporary failures with exponential backoff and bounces the rest.
public final class QueueRunner: Sendable {
    public struct Configuration: Sendable {
        /// First retry delay; doubles per attempt up to `maximumBackoff` (Postfix: 300 s / 4000 s).
        public var minimumBackoff: Duration = .seconds(300)
        public var maximumBackoff: Duration = .seconds(4 * 3600)
        /// Give up (bounce) after this long in the queue (Postfix's maximal_queue_lifetime: 5 days).
        public var maximumLifetime: Duration = .seconds(5 * 24 * 3600)
        /// Messages being delivered at once (the active window).
        public var maximumConcurrentMessages = 20
        /// Concurrent transactions to one destination domain (Postfix's
        /// default_destination_concurrency_limit is 20).
        public var maximumPerDestination = 20
        /// How often the queue is checked when nothing wakes the runner (new mail and finished
        /// attempts wake it at once).
        public var pollInterval: Duration = .seconds(1)
        /// Our host name: EHLO, Reporting-MTA of bounces.
        public var hostname: String

        public init(hostname: String) { self.hostname = hostname }
    }

    let configuration: Configuration
    let queue: OutboundQueue
    let routing: Routing
    let resolver: any MailHostResolver
    let client: SMTPClient
    let smarthostClient: SMTPClient?
    let directory: any UserDirectory
    let localDelivery: LocalDeliveryAgent
    let logger: Logger
    private let state = Mutex(State())
    private let wakeup = Wakeup()

    private struct State {
        var inFlight: Set<QueueID> = []
        var perDestination: [String: Int] = [:]
    }

    public init(configuration: Configuration, queue: OutboundQueue, routing: Routing, resolver: any MailHostResolver,
                client: SMTPClient, smarthostClient: SMTPClient?, directory: any UserDirectory,
                localDelivery: LocalDeliveryAgent, logger: Logger) {
        self.configuration = configuration; self.queue = queue; self.routing = routing; self.resolver = resolver
        self.client = client; self.smarthostClient = smarthostClient; self.directory = directory
        self.localDelivery = localDelivery; self.logger = logger
        queue.onEnqueue { [wakeup] in wakeup.signal() }
    }

    /// Runs until the task is cancelled; attempts in progress then finish.
    public func run() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let busy = state.withLock { $0.inFlight.count }
                let free = configuration.maximumConcurrentMessages - busy
                if free > 0, let due = try? await queue.due(limit: free + busy) {
                    for message in due {
                        let claimed = state.withLock { s in
                            s.inFlight.count < configuration.maximumConcurrentMessages && s.inFlight.insert(message.id).inserted
                        }
                        guard claimed else { continue }
                        group.addTask { [self] in
                            await self.attempt(message)
                            _ = state.withLock { $0.inFlight.remove(message.id) }
                            wakeup.signal()
                        }
                    }
                }
                await wakeup.wait(upTo: configuration.pollInterval)
            }
        }
    }

    /// New mail was queued: look at the queue now rather than at the next poll.
    public func wake() { wakeup.signal() }

    /// One delivery attempt for every due recipient of `message`.
    func attempt(_ listed: QueuedMessage) async {
        var log = logger
        log[metadataKey: "queue_id"] = "\(listed.id)"
        // The listing may predate an attempt that finished since: read the message again now
        // that it is ours, so nothing is sent twice.
        guard let message = try? await queue.message(listed.id) else { return }
        let now = Date()
        let due = message.recipients.filter { $0.state == .pending && $0.nextAttempt <= now }
        guard !due.isEmpty else { return }
        var byDomain: [String: [QueuedMessage.Recipient]] = [:]
        for r in due { byDomain[DirectoryAddress.split(r.address)?.domain ?? "", default: []].append(r) }

        var updates: [QueuedMessage.Recipient] = []
        for (domain, recipients) in byDomain.sorted(by: { $0.key < $1.key }) {
            let outcomes = await deliver(message, recipients: recipients, domain: domain, logger: log)
            for r in recipients {
                var u = r
                u.attempts += 1
                let outcome = outcomes[r.address] ?? .temporary("no outcome")
                switch outcome {
                case .delivered(let reply):
                    u.state = .delivered
                    u.lastError = nil
                    log.info("delivered", metadata: ["to": "\(r.address)", "reply": "\(reply)"])
                case .permanent(let why):
                    u.state = .failed
                    u.lastError = why
                    log.warning("bounced", metadata: ["to": "\(r.address)", "reason": "\(why)"])
                case .temporary(let why):
                    u.lastError = why
                    if now.timeIntervalSince(message.arrival) >= configuration.maximumLifetime.seconds {
                        u.state = .failed
                        // RFC 3463 X.4.7: delivery time expired.
                        u.lastError = "4.4.7 gave up after \(Int(configuration.maximumLifetime.seconds)) s: \(why)"
                        log.warning("expired", metadata: ["to": "\(r.address)", "reason": "\(why)"])
                    } else {
                        u.nextAttempt = now.addingTimeInterval(backoff(attempts: u.attempts))
                        log.info("deferred", metadata: ["to": "\(r.address)", "reason": "\(why)", "attempts": "\(u.attempts)"])
                    }
                }
                updates.append(u)
            }
        }
        let failed = updates.filter { $0.state == .failed }
        if !failed.isEmpty { await bounce(message, failed: failed, logger: log) }
        do {
            try await queue.record(message.id, updates)
        } catch {
            log.error("cannot record delivery results", metadata: ["error": "\(error)"])
        }
    }

    /// RFC 5321 §4.5.4.1: retries back off; we double from the minimum up to the maximum.
    func backoff(attempts: Int) -> TimeInterval {
        let base = configuration.minimumBackoff.seconds
        let factor = pow(2.0, Double(max(0, attempts - 1)))
        return min(base * factor, configuration.maximumBackoff.seconds)
    }

    /// Delivers to one destination domain: its hosts in order, until every recipient has a
    /// definite answer or the hosts run out.
    func deliver(_ message: QueuedMessage, recipients: [QueuedMessage.Recipient], domain: String,
                 logger: Logger) async -> [String: SMTPClient.Outcome] {
        var outcomes: [String: SMTPClient.Outcome] = [:]
        let route = routing.route(for: domain)
        var hops: [(name: String, host: String, port: Int)] = []
        var client = self.client
        switch route {
        case .transport(let hop):
            hops = [(hop.host, hop.host, hop.port)]
        case .smarthost(let hop):
            hops = [(hop.host, hop.host, hop.port)]
            client = smarthostClient ?? client
        case .mx(let domain):
            switch await resolver.mailHosts(for: domain) {
            case .nullMX:
                for r in recipients { outcomes[r.address] = .permanent("5.1.10 \(domain) accepts no mail (null MX, RFC 7505)") }
                return outcomes
            case .permanent(let why):
                for r in recipients { outcomes[r.address] = .permanent("5.1.2 \(domain): \(why)") }
                return outcomes
            case .temporary(let why):
                for r in recipients { outcomes[r.address] = .temporary("4.4.3 \(domain): \(why)") }
                return outcomes
            case .hosts(let hosts):
                for h in hosts { for a in h.addresses { hops.append((h.name, a, 25)) } }
            }
        }
        logger.info("routing", metadata: ["domain": "\(domain)", "route": "\(route)", "hops": "\(hops.map { "\($0.name)[\($0.host)]:\($0.port)" })"])
        // Wait for a slot to this destination rather than counting a busy destination as a
        // failed attempt.
        while !acquire(domain) { try? await Task.sleep(for: .milliseconds(20)) }
        defer { release(domain) }
        var remaining = recipients.map(\.address)
        for hop in hops where !remaining.isEmpty {
            let envelope = SMTPClient.Envelope(
                sender: message.sender, recipients: remaining, message: message.bytes, needsSMTPUTF8: message.smtputf8,
                eightBit: message.eightBit, binary: message.binary, envelopeID: message.envelopeID,
                returnFull: message.returnFull,
                notify: Dictionary(recipients.compactMap { r in r.notify.map { (r.address, $0) } }, uniquingKeysWith: { a, _ in a }),
                originalRecipients: Dictionary(recipients.compactMap { r in r.originalRecipient.map { (r.address, $0) } },
                                               uniquingKeysWith: { a, _ in a }))
            let result = await client.send(envelope, host: hop.host, port: hop.port, serverName: hop.name, logger: logger)
            logger.debug("attempt", metadata: ["host": "\(hop.name)[\(hop.host)]:\(hop.port)", "tls": "\(result.usedTLS)",
                                                "transcript": "\(result.transcript)"])
            for (recipient, outcome) in result.outcomes { outcomes[recipient] = outcome }
            // RFC 5321 §5.1: try the next host only for what this one deferred.
            remaining = result.outcomes.filter { $0.outcome.isTemporary }.map(\.recipient)
        }
        if hops.isEmpty {
            for r in recipients { outcomes[r.address] = .temporary("4.4.4 no hosts for \(domain)") }
        }
        return outcomes
    }

    private func acquire(_ domain: String) -> Bool {
        state.withLock { s in
            let n = s.perDestination[domain, default: 0]
            guard n < configuration.maximumPerDestination else { return false }
            s.perDestination[domain] = n + 1
            return true
        }
    }

    private func release(_ domain: String) {
        state.withLock { s in s.perDestination[domain, default: 1] -= 1 }
    }

    /// RFC 3464 report to the sender; never for the null sender (RFC 5321 §6.1), and not for
    /// recipients that asked for no failure notices (RFC 3461 NOTIFY).
    func bounce(_ message: QueuedMessage, failed: [QueuedMessage.Recipient], logger: Logger) async {
        guard !message.sender.isEmpty else {
            logger.info("no bounce for the null sender")
            return
        }
        let notify = failed.filter { r in
            guard let n = r.notify?.uppercased() else { return true }
            return n.contains("FAILURE")
        }
        guard !notify.isEmpty else { return }
        let report = DeliveryStatusNotification(
            reportingMTA: configuration.hostname, to: message.sender, envelopeID: message.envelopeID, arrival: message.arrival,
            recipients: notify.map { r in
                DeliveryStatusNotification.Recipient(
                    address: r.address, originalRecipient: r.originalRecipient, action: .failed,
                    status: DeliveryStatusNotification.status(from: r.lastError ?? "", permanent: true), diagnostic: r.lastError)
            },
            original: message.bytes, returnFull: message.returnFull)
        let bytes = report.message()
        do {
            if case .deliver(let accounts, let forward) = try await directory.resolve(recipient: message.sender) {
                _ = await localDelivery.deliver(bytes, sender: "", to: accounts,
                                                internalDate: InternalDate(seconds: Int64(Date().timeIntervalSince1970)), logger: logger)
                if !forward.isEmpty { try await enqueueBounce(bytes, to: forward) }
            } else {
                try await enqueueBounce(bytes, to: [message.sender])
            }
            logger.info("bounce sent", metadata: ["to": "\(message.sender)"])
        } catch {
            logger.error("cannot send bounce", metadata: ["error": "\(error)"])
        }
    }

    private func enqueueBounce(_ bytes: [UInt8], to recipients: [String]) async throws {
        try await queue.enqueue([QueuedMessage(id: QueueID.make(), sender: "",
                                               recipients: recipients.map { QueuedMessage.Recipient(address: $0) }, bytes: bytes)])
    }
}

extension Duration {
    var seconds: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}

/// A wake-up signal for the runner loop: `signal()` ends the current (or next) `wait`.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
    }
    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Returns at the next `signal()` or after `timeout`, whichever comes first.
    func wait(upTo timeout: Duration) async {
        let generation: Int? = state.withLock { s in
            if s.pending {
                s.pending = false
                return nil
            }
            s.generation += 1
            return s.generation
        }
        guard let generation else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.expire(generation)
        }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { s -> Bool in
                if s.pending || s.generation != generation {
                    s.pending = false
                    return true
                }
                s.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
        timer.cancel()
    }

    private func expire(_ generation: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.generation == generation, let w = s.waiter else {
                if s.generation == generation { s.generation += 1 }  // not waiting yet: make it return
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }
}
