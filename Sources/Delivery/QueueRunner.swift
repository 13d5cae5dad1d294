import Foundation
import Logging
import MailAuth
import MailCore
import MailQueue
import MailStore
import Metrics
import SMTPProtocol
import Synchronization

/// The queue manager (Postfix's qmgr and scache are the model).
///
/// - An in-memory **active queue** of bounded size: new mail enters it straight from `enqueue`
///   (no read back), and mail waiting for a retry is fed from the database's
///   (state, next_attempt) index when room frees up or once per `pollInterval`; between retries
///   nothing is read.
/// - Each message's remote recipients are grouped by domain into one delivery per destination;
///   a `DestinationScheduler` decides which may start (slow start, round robin between
///   destinations, a bounded total, dead destinations deferred without a connection attempt).
/// - Sessions are kept in a `ConnectionCache` and reused for the next message to the same host.
/// - Results are recorded in batches (`QueueRecorder`): many attempts, one transaction.
///
/// Recipients in our own domains (bounces to local senders, forwards) go to local delivery.
public final class QueueRunner: Sendable {
    public struct Configuration: Sendable {
        /// First retry delay; doubles per attempt up to `maximumBackoff` (Postfix: 300 s / 4000 s).
        public var minimumBackoff: Duration = .seconds(300)
        public var maximumBackoff: Duration = .seconds(4 * 3600)
        /// Give up (bounce) after this long in the queue (Postfix's maximal_queue_lifetime: 5 days).
        public var maximumLifetime: Duration = .seconds(5 * 24 * 3600)
        /// Send one "delayed" report (RFC 3464) for mail still queued after this long; nil: never.
        public var delayWarning: Duration? = .seconds(4 * 3600)
        /// Messages in memory at once (Postfix's qmgr_message_active_limit); the rest wait on disk.
        public var activeLimit = 1000
        /// Bytes of message content in memory at once.
        public var activeBytesLimit = 256 << 20
        /// Concurrency per destination and in all, and how long a dead destination is left
        /// alone (`DestinationScheduler`; the runtime sets `deadTime` to `queue.min_backoff`).
        public var scheduling = SchedulingPolicy()
        /// Seconds an idle session is kept for reuse, and transactions per session.
        public var connectionIdleTime: Duration = .seconds(5)
        public var connectionReuseLimit = 100
        /// Recipients per transaction (Postfix's smtp_destination_recipient_limit).
        public var recipientsPerTransaction = 50
        /// How often the database is checked for mail that became due (retries, `queue flush`
        /// from the command line); new mail and finished attempts wake the runner at once.
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
    /// Where attempts are recorded for `swallow trace` (nil: not traced).
    let trace: MessageTrace?
    let state: Mutex<State>
    private let wakeup = Wakeup()
    let connections: ConnectionCache
    private let recorder: QueueRecorder

    /// What a delivery waiting for its destination's turn is told.
    enum Turn: Sendable {
        case start
        case dead(String)
        case stopping
    }

    struct State {
        /// The active queue: message ID → bytes held.
        var active: [QueueID: Int] = [:]
        var activeBytes = 0
        /// Admitted from `enqueue`, not yet started.
        var incoming: [QueuedMessage] = []
        /// Mail was left on disk because the active queue was full: feed when room frees up.
        var backlog = false
        var scheduler: DestinationScheduler<CheckedContinuation<Turn, Never>>
        var stopping = false
    }

    public init(configuration: Configuration, queue: OutboundQueue, routing: Routing, resolver: any MailHostResolver,
                client: SMTPClient, smarthostClient: SMTPClient?, directory: any UserDirectory,
                localDelivery: LocalDeliveryAgent, logger: Logger, trace: MessageTrace? = nil) {
        self.trace = trace
        self.configuration = configuration; self.queue = queue; self.routing = routing; self.resolver = resolver
        self.client = client; self.smarthostClient = smarthostClient; self.directory = directory
        self.localDelivery = localDelivery; self.logger = logger
        state = Mutex(State(scheduler: DestinationScheduler(configuration: configuration.scheduling)))
        connections = ConnectionCache(configuration: .init(idleTime: configuration.connectionIdleTime,
                                                           reuseLimit: configuration.connectionReuseLimit))
        recorder = QueueRecorder(queue: queue)
        queue.onEnqueue { [weak self] messages in self?.admit(messages) }
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Takes new messages into the active queue while there is room; the rest stay on disk
    /// and are fed later.
    private func admit(_ messages: [QueuedMessage]) {
        state.withLock { s in
            guard !s.stopping else { return }
            for m in messages {
                guard s.active.count < configuration.activeLimit, s.activeBytes + m.bytes.count <= configuration.activeBytesLimit,
                      s.active[m.id] == nil else {
                    s.backlog = true
                    continue
                }
                s.active[m.id] = m.bytes.count
                s.activeBytes += m.bytes.count
                s.incoming.append(m)
            }
        }
        wakeup.signal()
    }

    /// Runs until `stop()` (or cancellation, which stops it the same way); then returns once the
    /// attempts in progress have finished and been recorded, so a remote 250 is never forgotten
    /// (and the message never sent twice).
    public func run() async {
        await withTaskCancellationHandler {
            await runUntilStopped()
        } onCancel: {
            stop()
        }
        connections.closeAll()
    }

    private func runUntilStopped() async {
        await withDiscardingTaskGroup { group in
            var lastFeed = ContinuousClock.now - configuration.pollInterval
            while !isStopping {
                for message in state.withLock({ s in defer { s.incoming = [] }; return s.incoming }) {
                    group.addTask { await self.process(message.id, admitted: message) }
                }
                let feedDue = ContinuousClock.now - lastFeed >= configuration.pollInterval
                if feedDue || state.withLock({ $0.backlog && $0.active.count <= configuration.activeLimit / 2 }) {
                    lastFeed = .now
                    for id in await feed() {
                        group.addTask { await self.process(id, admitted: nil) }
                    }
                }
                await wakeup.wait(upTo: configuration.pollInterval)
            }
        }
    }

    /// Claims due messages from the database for the room in the active queue.
    private func feed() async -> [QueueID] {
        let (room, busy) = state.withLock { s in (configuration.activeLimit - s.active.count, s.active.count) }
        guard room > 0, let due = try? await queue.dueIDs(limit: room + busy) else { return [] }
        return state.withLock { s in
            var claimed: [QueueID] = []
            s.backlog = due.count >= room + busy
            for id in due where !s.stopping && s.active.count < configuration.activeLimit && s.active[id] == nil {
                s.active[id] = 0
                claimed.append(id)
            }
            return claimed
        }
    }

    /// Graceful shutdown: take no new message or next hop; transactions in progress finish
    /// (each step is bounded by the client's deadlines); deliveries waiting for a turn end
    /// without an attempt.
    public func stop() {
        let waiting = state.withLock { s in
            s.stopping = true
            return s.scheduler.removeAllWaiting()
        }
        for w in waiting { w.resume(returning: .stopping) }
        wakeup.signal()
    }

    /// One attempt for every due recipient of a message, then its record; the message leaves
    /// the active queue.
    func process(_ id: QueueID, admitted: QueuedMessage?) async {
        await attempt(id, admitted: admitted)
        let signal = state.withLock { s -> Bool in
            if let bytes = s.active.removeValue(forKey: id) { s.activeBytes -= bytes }
            return s.backlog
        }
        if signal { wakeup.signal() }
    }

    private func attempt(_ id: QueueID, admitted: QueuedMessage?) async {
        var log = logger
        log[metadataKey: "queue_id"] = "\(id)"
        // Fed from the database: read it now that it is ours, so an attempt that finished
        // since it was listed is not repeated. Admitted from `enqueue`: it is as stored.
        let message: QueuedMessage
        if let admitted {
            message = admitted
        } else {
            guard let read = try? await queue.message(id) else { return }
            message = read
            state.withLock { s in
                s.active[id] = message.bytes.count
                s.activeBytes += message.bytes.count
            }
        }
        let now = Date()
        let due = message.recipients.filter { $0.state == .pending && $0.nextAttempt <= now }
        guard !due.isEmpty, !message.held else { return }

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
        // One delivery per destination domain, all at once: each waits for its own turn.
        let remoteLog = log
        var hops: HopsSeen = [:]
        await withTaskGroup(of: (outcomes: [String: SMTPClient.Outcome], hops: HopsSeen).self) { group in
            for (domain, recipients) in byDomain {
                group.addTask { await self.deliver(message, recipients: recipients, domain: domain, logger: remoteLog) }
            }
            for await result in group {
                outcomes.merge(result.outcomes) { _, new in new }
                hops.merge(result.hops) { _, new in new }
            }
        }

        var updates: [QueuedMessage.Recipient] = []
        var delayed: [QueuedMessage.Recipient] = []
        for r in due {
            // No outcome: not attempted (shutting down); the recipient stays as it was.
            guard let outcome = outcomes[r.address] else { continue }
            var u = update(r, with: outcome, message: message, now: now, logger: log)
            if u.state == .pending, !u.delayWarned, let after = configuration.delayWarning,
               now.timeIntervalSince(message.arrival) >= after.seconds, Bounces.wants(u, "DELAY") {
                u.delayWarned = true
                delayed.append(u)
            }
            updates.append(u)
        }
        guard !updates.isEmpty else { return }
        var newMessages: [QueuedMessage] = []
        var forwarded: QueuedMessage?
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
            forwarded = forward
        }
        let bounce = Bounces.failure(message, failed: updates.filter { $0.state == .failed }, hostname: configuration.hostname)
        if let bounce { newMessages.append(bounce) }
        let delay = Bounces.delay(message, delayed: delayed, hostname: configuration.hostname)
        if let delay { newMessages.append(delay) }
        if message.sender.isEmpty && updates.contains(where: { $0.state == .failed }) { log.info("no bounce for the null sender") }
        // Recorded in a task of its own: a cancelled attempt (a second signal) must still write
        // down what the remote host answered. The bounce is queued in the same transaction, so
        // it exists exactly when the failure it reports is recorded.
        let recorder = self.recorder
        let record = AttemptRecord(id: message.id, updates: updates, enqueue: newMessages)
        let recorded = await Task { await recorder.record(record) }.value
        switch recorded {
        case .success:
            traceAttempt(message, updates: updates, outcomes: outcomes, hops: hops, reports: [bounce, delay], forward: forwarded)
            if let bounce {
                log.info("bounce sent", metadata: ["to": "\(LogSafe.escape(message.sender))", "bounce_id": "\(bounce.id)"])
            }
            if let delay {
                log.info("delay warning sent", metadata: ["to": "\(LogSafe.escape(message.sender))", "report_id": "\(delay.id)"])
            }
        case .failure(let error):
            log.error("cannot record delivery results", metadata: ["error": "\(LogSafe.escape("\(error)"))"])
        }
    }

    /// What the attempt did, for `swallow trace`: per recipient the remote answer and the host
    /// that gave it (local copies are traced by `LocalDeliveryAgent`), the reports sent, and the
    /// messages created (reports, forwarded copies) with their own queue IDs.
    private func traceAttempt(_ message: QueuedMessage, updates: [QueuedMessage.Recipient], outcomes: [String: SMTPClient.Outcome],
                              hops: HopsSeen, reports: [QueuedMessage?], forward: QueuedMessage?) {
        var events: [TraceEvent] = []
        for u in updates {
            guard let outcome = outcomes[u.address] else { continue }
            let kind: TraceEvent.Kind
            let reply: String
            switch (u.state, outcome) {
            case (.delivered, .delivered(let r)):
                // Local copies of queued mail were counted and traced by the delivery agent.
                guard hops[u.address] != nil else { continue }
                Counter(label: "swallow_messages_delivered_total", dimensions: [("where", "remote")]).increment()
                // Accepted → the remote 250.
                Timer(label: "swallow_delivery_latency_seconds", dimensions: [("where", "remote")])
                    .recordSeconds(max(0, Date().timeIntervalSince(message.arrival)))
                (kind, reply) = (.relayed, r.description)
            case (.failed, _):
                Counter(label: "swallow_messages_bounced_total").increment()
                (kind, reply) = (.failed, u.lastError ?? "")
            default:
                Counter(label: "swallow_messages_deferred_total").increment()
                (kind, reply) = (.deferred, u.lastError ?? "")
            }
            var data = hops[u.address] ?? [:]
            data["reply"] = reply
            data["attempt"] = "\(u.attempts)"
            let via = hops[u.address].map { " via \($0["host"] ?? "?") [\($0["ip"] ?? "?")]:\($0["port"] ?? "?")" } ?? ""
            events.append(TraceEvent(queueID: message.id, kind: kind, recipient: u.address,
                                     text: "\(kind.rawValue) to \(u.address)\(via): \(reply)", data: data))
        }
        var created: [TracedEnvelope] = []
        for case let report? in reports {
            events.append(TraceEvent(queueID: message.id, kind: .bounced, recipient: message.sender,
                                     text: "delivery report \(report.id) sent to \(message.sender)", data: ["report": report.id.rawValue]))
            created.append(TracedEnvelope(queueID: report.id, messageID: nil, sender: "", recipients: report.recipients.map(\.address)))
        }
        if let forward {
            created.append(TracedEnvelope(queueID: forward.id, messageID: nil, sender: forward.sender,
                                          recipients: forward.recipients.map(\.address)))
        }
        guard let trace else { return }
        trace.record(events)
        for envelope in created {
            trace.received(envelope, TraceEvent(queueID: envelope.queueID, kind: .received,
                                                text: "created by \(configuration.hostname) for \(message.id)",
                                                data: ["protocol": "local", "origin": message.id.rawValue]))
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
                                                  queueID: message.id, accepted: message.arrival, logger: logger)
        for (account, outcome) in results {
            if case .failed(let error) = outcome { return .temporary("4.3.0 local delivery to \(account.address) failed: \(error)") }
        }
        return .delivered(SMTPReply(code: 250, enhanced: EnhancedStatus(2, 0, 0), "delivered locally"))
    }
}
extension Duration {
    var seconds: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}

/// A wake-up signal for the runner loop: `signal()` ends the current (or next) `wait`.
final class Wakeup: Sendable {
    struct State {
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
