import Foundation
import Logging
import MailAuth
import MailCore
import MailQueue
import MailStore
import SMTPProtocol
import Synchronization

/// The queue manager (Postfix's qmgr is the model): takes due messages from the durable queue,
/// routes each recipient's domain, delivers recipients for the same destination in one SMTP
/// transaction, retries temporary failures with exponential backoff and bounces the rest.
/// Recipients in our own domains (bounces to local senders) go to local delivery.
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
        /// This host, to recognise a next hop that would send the mail back to us.
        public var myself: LocalHost

        public init(hostname: String) {
            self.hostname = hostname
            self.myself = LocalHost(hostname: hostname)
        }
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
        var stopping = false
    }

    public init(configuration: Configuration, queue: OutboundQueue, routing: Routing, resolver: any MailHostResolver,
                client: SMTPClient, smarthostClient: SMTPClient?, directory: any UserDirectory,
                localDelivery: LocalDeliveryAgent, logger: Logger) {
        self.configuration = configuration; self.queue = queue; self.routing = routing; self.resolver = resolver
        self.client = client; self.smarthostClient = smarthostClient; self.directory = directory
        self.localDelivery = localDelivery; self.logger = logger
        queue.onEnqueue { [wakeup] in wakeup.signal() }
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    /// Runs until `stop()` (or cancellation, which stops it the same way); then returns once the
    /// attempts in progress have finished and been recorded, so a remote 250 is never forgotten
    /// (and the message never sent twice).
    public func run() async {
        await withTaskCancellationHandler {
            await runUntilStopped()
        } onCancel: {
            stop()
        }
    }

    private func runUntilStopped() async {
        await withDiscardingTaskGroup { group in
            while !isStopping {
                let busy = state.withLock { $0.inFlight.count }
                let free = configuration.maximumConcurrentMessages - busy
                if free > 0, let due = try? await queue.due(limit: free + busy) {
                    for message in due {
                        let claimed = state.withLock { s in
                            !s.stopping && s.inFlight.count < configuration.maximumConcurrentMessages
                                && s.inFlight.insert(message.id).inserted
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

    /// Graceful shutdown: take no new message or next hop; transactions in progress finish
    /// (each step is bounded by the client's deadlines).
    public func stop() {
        state.withLock { $0.stopping = true }
        wakeup.signal()
    }

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

        var outcomes: [String: SMTPClient.Outcome] = [:]
        var forwards: [String] = []
        var byDomain: [String: [QueuedMessage.Recipient]] = [:]
        for r in due {
            switch await resolveLocal(r.address) {
            case .remote:
                byDomain[DirectoryAddress.split(r.address)?.domain ?? "", default: []].append(r)
            case .local(let accounts, let forward):
                outcomes[r.address] = await deliverLocally(message, to: accounts, logger: log)
                if case .delivered = outcomes[r.address] { forwards += forward }
            case .failed(let outcome):
                outcomes[r.address] = outcome
            }
        }
        for (domain, recipients) in byDomain.sorted(by: { $0.key < $1.key }) {
            outcomes.merge(await deliver(message, recipients: recipients, domain: domain, logger: log)) { _, new in new }
        }

        var updates: [QueuedMessage.Recipient] = []
        for r in due {
            // No outcome: not attempted (shutting down); the recipient stays as it was.
            guard let outcome = outcomes[r.address] else { continue }
            updates.append(update(r, with: outcome, message: message, now: now, logger: log))
        }
        var newMessages: [QueuedMessage] = []
        if !forwards.isEmpty {
            // A new envelope for the alias's remote targets, carrying the original's body type,
            // SMTPUTF8 and DSN parameters (RFC 6152, RFC 6531, RFC 3461) so the next hop is
            // told what the message needs.
            var forward = message
            forward.id = QueueID.make()
            forward.recipients = forwards.map { QueuedMessage.Recipient(address: $0) }
            forward.arrival = now
            forward.acceptance = nil
            newMessages.append(forward)
        }
        let bounce = bounce(message, failed: updates.filter { $0.state == .failed }, logger: log)
        if let bounce { newMessages.append(bounce) }
        // Recorded in a task of its own: a cancelled attempt (a second signal) must still write
        // down what the remote host answered. The bounce is queued in the same transaction, so
        // it exists exactly when the failure it reports is recorded.
        let queue = self.queue
        let id = message.id
        let recorded = await Task { try await queue.record(id, updates, enqueue: newMessages) }.result
        switch recorded {
        case .success:
            if let bounce {
                log.info("bounce sent", metadata: ["to": "\(LogSafe.escape(message.sender))", "bounce_id": "\(bounce.id)"])
            }
        case .failure(let error):
            log.error("cannot record delivery results", metadata: ["error": "\(LogSafe.escape("\(error)"))"])
        }
    }

    private func update(_ r: QueuedMessage.Recipient, with outcome: SMTPClient.Outcome, message: QueuedMessage,
                        now: Date, logger log: Logger) -> QueuedMessage.Recipient {
        var u = r
        u.attempts += 1
        switch outcome {
        case .delivered(let reply):
            u.state = .delivered
            u.lastError = nil
            log.info("delivered", metadata: ["to": "\(LogSafe.escape(r.address))", "reply": "\(LogSafe.escape(reply.description))"])
        case .permanent(let why):
            u.state = .failed
            u.lastError = why
            log.warning("bounced", metadata: ["to": "\(LogSafe.escape(r.address))", "reason": "\(LogSafe.escape(why))"])
        case .temporary(let why):
            u.lastError = why
            if now.timeIntervalSince(message.arrival) >= configuration.maximumLifetime.seconds {
                u.state = .failed
                // RFC 3463 X.4.7: delivery time expired.
                u.lastError = "4.4.7 gave up after \(Int(configuration.maximumLifetime.seconds)) s: \(why)"
                log.warning("expired", metadata: ["to": "\(LogSafe.escape(r.address))", "reason": "\(LogSafe.escape(why))"])
            } else {
                u.nextAttempt = now.addingTimeInterval(backoff(attempts: u.attempts))
                log.info("deferred", metadata: ["to": "\(LogSafe.escape(r.address))", "reason": "\(LogSafe.escape(why))",
                                                "attempts": "\(u.attempts)"])
            }
        }
        return u
    }

    /// RFC 5321 §4.5.4.1: retries back off; we double from the minimum up to the maximum.
    func backoff(attempts: Int) -> TimeInterval {
        let base = configuration.minimumBackoff.seconds
        let factor = pow(2.0, Double(max(0, attempts - 1)))
        return min(base * factor, configuration.maximumBackoff.seconds)
    }

    private enum LocalResolution {
        case remote
        case local(accounts: [Account], forward: [String])
        case failed(SMTPClient.Outcome)
    }

    private func resolveLocal(_ address: String) async -> LocalResolution {
        do {
            switch try await directory.resolve(recipient: address) {
            case .notLocal: return .remote
            case .unknownUser: return .failed(.permanent("5.1.1 <\(address)>: no such user here"))
            case .deliver(let accounts, let forward): return .local(accounts: accounts, forward: forward)
            }
        } catch {
            return .failed(.temporary("4.3.0 cannot look up <\(address)>: \(error)"))
        }
    }

    /// Local delivery of a queued message (a bounce to a local sender). Any failed copy makes
    /// the recipient wait for a retry; copies that succeeded may then be delivered again.
    private func deliverLocally(_ message: QueuedMessage, to accounts: [Account], logger: Logger) async -> SMTPClient.Outcome {
        let results = await localDelivery.deliver(message.bytes, sender: message.sender, to: accounts,
                                                  internalDate: InternalDate(seconds: Int64(Date().timeIntervalSince1970)),
                                                  logger: logger)
        for (account, outcome) in results {
            if case .failed(let error) = outcome { return .temporary("4.3.0 local delivery to \(account.address) failed: \(error)") }
        }
        return .delivered(SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), "delivered locally"))
    }

    /// Delivers to one destination domain: its hosts in order, until every recipient has a
    /// definite answer or the hosts run out.
    func deliver(_ message: QueuedMessage, recipients: [QueuedMessage.Recipient], domain: String,
                 logger: Logger) async -> [String: SMTPClient.Outcome] {
        var outcomes: [String: SMTPClient.Outcome] = [:]
        func all(_ outcome: SMTPClient.Outcome) -> [String: SMTPClient.Outcome] {
            Dictionary(uniqueKeysWithValues: recipients.map { ($0.address, outcome) })
        }
        // RFC 3463 X.4.6 routing loop; Postfix's words.
        let loop = SMTPClient.Outcome.permanent("5.4.6 mail for \(domain) loops back to myself")
        let route = routing.route(for: domain)
        var hops: [(name: String, host: String, port: Int)] = []
        var client = self.client
        switch route {
        case .transport(let hop), .smarthost(let hop):
            if configuration.myself.isMyself(host: hop.host, port: hop.port) { return all(loop) }
            hops = [(hop.host, hop.host, hop.port)]
            if case .smarthost = route { client = smarthostClient ?? client }
        case .mx(let domain):
            switch await resolver.mailHosts(for: domain) {
            case .nullMX:
                return all(.permanent("5.1.10 \(domain) accepts no mail (null MX, RFC 7505)"))
            case .permanent(let why):
                return all(.permanent("5.1.2 \(domain): \(why)"))
            case .temporary(let why):
                return all(.temporary("4.4.3 \(domain): \(why)"))
            case .hosts(let hosts):
                // RFC 5321 §5.1: when this host is one of the MX hosts, only more preferred
                // ones may be used; when it is the best, the mail would come straight back.
                var usable = hosts
                if let mine = hosts.filter({ configuration.myself.isMyself(mailHost: $0) }).map(\.preference).min() {
                    usable = hosts.filter { $0.preference < mine }
                    if usable.isEmpty { return all(loop) }
                }
                for h in usable { for a in h.addresses { hops.append((h.name, a, 25)) } }
            }
        }
        logger.info("routing", metadata: ["domain": "\(LogSafe.escape(domain))", "route": "\(LogSafe.escape(route.description))",
                                          "hops": "\(LogSafe.escape(hops.map { "\($0.name)[\($0.host)]:\($0.port)" }.description))"])
        // Wait for a slot to this destination rather than counting a busy destination as a
        // failed attempt.
        while !acquire(domain) {
            if isStopping { return [:] }
            try? await Task.sleep(for: .milliseconds(20))
        }
        defer { release(domain) }
        var remaining = recipients.map(\.address)
        for hop in hops where !remaining.isEmpty {
            // Shutting down: the transaction in progress finishes, no other starts.
            if isStopping { break }
            let envelope = SMTPClient.Envelope(
                sender: message.sender, recipients: remaining, message: message.bytes, needsSMTPUTF8: message.smtputf8,
                eightBit: message.eightBit, binary: message.binary, envelopeID: message.envelopeID,
                returnFull: message.returnFull,
                notify: Dictionary(recipients.compactMap { r in r.notify.map { (r.address, $0) } }, uniquingKeysWith: { a, _ in a }),
                originalRecipients: Dictionary(recipients.compactMap { r in r.originalRecipient.map { (r.address, $0) } },
                                               uniquingKeysWith: { a, _ in a }))
            let result = await client.send(envelope, host: hop.host, port: hop.port, serverName: hop.name, logger: logger)
            logger.debug("attempt", metadata: ["host": "\(LogSafe.escape("\(hop.name)[\(hop.host)]:\(hop.port)"))",
                                                "tls": "\(result.usedTLS)", "transcript": "\(LogSafe.escape(result.transcript.description))"])
            for (recipient, outcome) in result.outcomes { outcomes[recipient] = outcome }
            // RFC 5321 §5.1: try the next host only for what this one deferred.
            remaining = result.outcomes.filter { $0.outcome.isTemporary }.map(\.recipient)
        }
        if hops.isEmpty { return all(.temporary("4.4.4 no hosts for \(domain)")) }
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

    /// RFC 3464 report to the sender, queued with the null sender; never for the null sender
    /// (RFC 5321 §6.1), and not for recipients that asked for no failure notices (RFC 3461
    /// NOTIFY).
    func bounce(_ message: QueuedMessage, failed: [QueuedMessage.Recipient], logger: Logger) -> QueuedMessage? {
        guard !failed.isEmpty else { return nil }
        guard !message.sender.isEmpty else {
            logger.info("no bounce for the null sender")
            return nil
        }
        let notify = failed.filter { r in
            guard let n = r.notify?.uppercased() else { return true }
            return n.contains("FAILURE")
        }
        guard !notify.isEmpty else { return nil }
        let report = DeliveryStatusNotification(
            reportingMTA: configuration.hostname, to: message.sender, envelopeID: message.envelopeID, arrival: message.arrival,
            recipients: notify.map { r in
                DeliveryStatusNotification.Recipient(
                    address: r.address, originalRecipient: r.originalRecipient, action: .failed,
                    status: DeliveryStatusNotification.status(from: r.lastError ?? "", permanent: true), diagnostic: r.lastError)
            },
            original: message.bytes, returnFull: message.returnFull)
        return QueuedMessage(id: QueueID.make(), sender: "", recipients: [QueuedMessage.Recipient(address: message.sender)],
                             bytes: report.message())
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
