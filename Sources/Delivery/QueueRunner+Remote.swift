import Foundation
import Logging
import MailCore
import MailQueue

/// For the trace: per recipient, the host that answered (`host`, `ip`, `port`, `tls`).
typealias HopsSeen = [String: [String: String]]

/// Remote delivery: one destination's turn, its next hops, and the sessions to them.
extension QueueRunner {
    /// The scheduler's name for where mail to `domain` goes: the domain itself for MX routing,
    /// the hop for a transport or smarthost (every domain sent there shares its limits).
    static func destination(of route: Routing.Route) -> String {
        switch route {
        case .transport(let hop), .smarthost(let hop): "[\(hop.host)]:\(hop.port)"
        case .mx(let domain): domain
        }
    }

    /// Delivers to one destination domain when its turn comes: its hosts in order, until every
    /// recipient has a definite answer or the hosts run out. No outcome for a recipient means
    /// it was not attempted (shutting down).
    /// Also returns, for the trace, the host that gave each recipient's outcome.
    func deliver(_ message: QueuedMessage, recipients: [QueuedMessage.Recipient], domain: String,
                 logger: Logger) async -> (outcomes: [String: SMTPClient.Outcome], hops: HopsSeen) {
        func all(_ outcome: SMTPClient.Outcome) -> (outcomes: [String: SMTPClient.Outcome], hops: HopsSeen) {
            (Dictionary(uniqueKeysWithValues: recipients.map { ($0.address, outcome) }), [:])
        }
        let route = routing.route(for: domain)
        let destination = Self.destination(of: route)
        switch await turn(destination) {
        case .stopping:
            return ([:], [:])
        case .dead(let reason):
            // Postfix defers mail for a dead destination without trying it.
            return all(.temporary("4.4.1 destination dead, not attempted (\(destination)): \(reason)"))
        case .start:
            break
        }
        let (outcomes, feedback, hops) = await deliver(message, recipients: recipients, domain: domain, route: route, logger: logger)
        finished(destination, feedback: feedback)
        return (outcomes, hops)
    }

    /// Waits for the destination's turn (`DestinationScheduler`).
    private func turn(_ destination: String) async -> Turn {
        await withCheckedContinuation { continuation in
            let answer = state.withLock { s -> Turn? in
                if s.stopping { return .stopping }
                switch s.scheduler.submit(destination, waiter: continuation, now: Date()) {
                case .start: return .start
                case .dead(let reason): return .dead(reason)
                case .wait: return nil
                }
            }
            if let answer { continuation.resume(returning: answer) }
        }
    }

    private func finished(_ destination: String, feedback: DestinationScheduler<CheckedContinuation<Turn, Never>>.Feedback) {
        let (start, refused, died) = state.withLock { s in s.scheduler.finished(destination, feedback: feedback, now: Date()) }
        if let died {
            logger.warning("destination dead", metadata: [
                "destination": "\(LogSafe.escape(destination))", "reason": "\(LogSafe.escape(died.reason))",
                "until": "\(ISO8601DateFormatter().string(from: died.until))", "deferred_waiting": "\(refused.count)"])
        }
        for w in start { w.resume(returning: .start) }
        for w in refused { w.resume(returning: .dead(died?.reason ?? "unreachable")) }
    }

    private typealias Feedback = DestinationScheduler<CheckedContinuation<Turn, Never>>.Feedback

    private func deliver(_ message: QueuedMessage, recipients: [QueuedMessage.Recipient], domain: String, route: Routing.Route,
                         logger: Logger) async -> ([String: SMTPClient.Outcome], Feedback, HopsSeen) {
        func all(_ outcome: SMTPClient.Outcome) -> [String: SMTPClient.Outcome] {
            Dictionary(uniqueKeysWithValues: recipients.map { ($0.address, outcome) })
        }
        // RFC 3463 X.4.6 routing loop; Postfix's words.
        let loop = SMTPClient.Outcome.permanent("5.4.6 mail for \(domain) loops back to myself")
        var hops: [(name: String, host: String, port: Int)] = []
        var client = self.client
        var smarthost = false
        switch route {
        case .transport(let hop), .smarthost(let hop):
            if configuration.myself.isMyself(host: hop.host, port: hop.port) { return (all(loop), .neutral, [:]) }
            hops = [(hop.host, hop.host, hop.port)]
            if case .smarthost = route, let c = smarthostClient {
                client = c
                smarthost = true
            }
        case .mx(let domain):
            switch await resolver.mailHosts(for: domain) {
            case .nullMX:
                return (all(.permanent("5.1.10 \(domain) accepts no mail (null MX, RFC 7505)")), .neutral, [:])
            case .permanent(let why):
                return (all(.permanent("5.1.2 \(domain): \(why)")), .neutral, [:])
            case .temporary(let why):
                return (all(.temporary("4.4.3 \(domain): \(why)")), .unreachable("4.4.3 \(domain): \(why)"), [:])
            case .hosts(let hosts):
                // RFC 5321 §5.1: when this host is one of the MX hosts, only more preferred
                // ones may be used; when it is the best, the mail would come straight back.
                var usable = hosts
                if let mine = hosts.filter({ configuration.myself.isMyself(mailHost: $0) }).map(\.preference).min() {
                    usable = hosts.filter { $0.preference < mine }
                    if usable.isEmpty { return (all(loop), .neutral, [:]) }
                }
                for h in usable { for a in h.addresses { hops.append((h.name, a, 25)) } }
            }
        }
        if hops.isEmpty { return (all(.temporary("4.4.4 no hosts for \(domain)")), .unreachable("no hosts for \(domain)"), [:]) }
        logger.info("routing", metadata: ["domain": "\(LogSafe.escape(domain))", "route": "\(LogSafe.escape(route.description))",
                                           "hops": "\(LogSafe.escape(hops.map { "\($0.name)[\($0.host)]:\($0.port)" }.description))"])
        var outcomes: [String: SMTPClient.Outcome] = [:]
        var seen: HopsSeen = [:]
        var remaining = recipients
        var reached = false
        for hop in hops where !remaining.isEmpty {
            // Shutting down: the transaction in progress finishes, no other starts.
            if isStopping { break }
            let key = "\(smarthost ? "smarthost" : "mx") \(hop.name) [\(hop.host)]:\(hop.port)"
            let result = await deliver(message, to: remaining, hop: hop, key: key, client: client, logger: logger)
            reached = reached || result.reached
            for (recipient, outcome) in result.outcomes {
                outcomes[recipient] = outcome
                seen[recipient] = ["host": hop.name, "ip": hop.host, "port": "\(hop.port)",
                                   "tls": result.tls.map { $0 ? "yes" : "no" } ?? "not connected"]
            }
            // RFC 5321 §5.1: try the next host only for what this one deferred.
            remaining = remaining.filter { outcomes[$0.address]?.isTemporary ?? false }
        }
        if reached { return (outcomes, .reachable, seen) }
        let reason = outcomes.values.compactMap { o -> String? in if case .temporary(let why) = o { why } else { nil } }.first
        return (outcomes, reason.map { .unreachable($0) } ?? .neutral, seen)
    }

    /// The recipients' transactions on one hop: on a cached session when there is one,
    /// `recipientsPerTransaction` at a time, and the ones the peer had no room for (452, RFC
    /// 5321 §4.5.3.1.10) in the next transaction. The session goes back to the cache.
    private func deliver(_ message: QueuedMessage, to recipients: [QueuedMessage.Recipient],
                         hop: (name: String, host: String, port: Int), key: String, client: SMTPClient,
                         logger: Logger) async -> (outcomes: [String: SMTPClient.Outcome], reached: Bool, tls: Bool?) {
        var outcomes: [String: SMTPClient.Outcome] = [:]
        var reached = false
        var tls: Bool?
        var session = connections.take(key)
        var pending = recipients
        while !pending.isEmpty && !isStopping {
            if session == nil {
                switch await client.open(host: hop.host, port: hop.port, serverName: hop.name, logger: logger) {
                case .failed(let outcome, let reachedPeer):
                    reached = reached || reachedPeer
                    for r in pending { outcomes[r.address] = outcome }
                    return (outcomes, reached, tls)
                case .ready(let connection):
                    session = (connection, 0)
                }
            }
            guard let (connection, uses) = session else { break }
            let batch = Array(pending.prefix(configuration.recipientsPerTransaction))
            let sent = await connection.send(envelope(message, batch))
            if sent.stale && uses > 0 {
                // The peer closed the idle session: nothing happened; a new session.
                connection.close()
                session = nil
                continue
            }
            reached = true
            tls = connection.usedTLS
            logger.debug("attempt", metadata: ["host": "\(LogSafe.escape("\(hop.name)[\(hop.host)]:\(hop.port)"))",
                                               "tls": "\(connection.usedTLS)", "reused": "\(uses > 0)",
                                               "transcript": "\(LogSafe.escape(sent.transcript.description))"])
            var again: [QueuedMessage.Recipient] = []
            for (recipient, outcome) in sent.outcomes {
                if sent.retryNextTransaction.contains(recipient), let r = batch.first(where: { $0.address == recipient }) {
                    again.append(r)
                } else {
                    outcomes[recipient] = outcome
                }
            }
            pending = Array(pending.dropFirst(batch.count)) + again
            guard sent.usable else {
                connection.close()
                session = nil
                for r in pending where outcomes[r.address] == nil {
                    outcomes[r.address] = .temporary("\(connection.hostDescription): session ended")
                }
                return (outcomes, reached, tls)
            }
            session = (connection, uses + 1)
        }
        if let (connection, uses) = session {
            if isStopping { connection.close() } else { connections.put(key, connection, uses: uses) }
        }
        return (outcomes, reached, tls)
    }

    private func envelope(_ message: QueuedMessage, _ recipients: [QueuedMessage.Recipient]) -> SMTPClient.Envelope {
        SMTPClient.Envelope(
            sender: message.sender, recipients: recipients.map(\.address), message: message.bytes, needsSMTPUTF8: message.smtputf8,
            eightBit: message.eightBit, binary: message.binary, envelopeID: message.envelopeID, returnFull: message.returnFull,
            notify: Dictionary(recipients.compactMap { r in r.notify.map { (r.address, $0) } }, uniquingKeysWith: { a, _ in a }),
            originalRecipients: Dictionary(recipients.compactMap { r in r.originalRecipient.map { (r.address, $0) } },
                                           uniquingKeysWith: { a, _ in a }))
    }
}

/// Group commit for attempt results: attempts that finish while a transaction is being written
/// go together in the next one (one fsync for many messages).
actor QueueRecorder {
    static let maxBatch = 256
    private let queue: OutboundQueue
    private var pending: [(AttemptRecord, CheckedContinuation<Result<Void, QueueError>, Never>)] = []
    private var flushing = false

    init(queue: OutboundQueue) {
        self.queue = queue
    }

    func record(_ record: AttemptRecord) async -> Result<Void, QueueError> {
        await withCheckedContinuation { continuation in
            pending.append((record, continuation))
            if !flushing {
                flushing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(Self.maxBatch))
            pending.removeFirst(batch.count)
            let result: Result<Void, QueueError>
            do {
                try await queue.record(batch.map(\.0))
                result = .success(())
            } catch {
                result = .failure(error)
            }
            for (_, continuation) in batch { continuation.resume(returning: result) }
        }
        flushing = false
    }
}
