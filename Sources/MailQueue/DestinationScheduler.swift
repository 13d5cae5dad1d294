import Foundation

/// Which delivery may start next, per destination: Postfix qmgr's concurrency scheduler as a
/// value type (no I/O, no clock of its own), so its policy is tested without sockets.
///
/// - Slow start: a destination starts with `initialConcurrency` connections; each delivery that
///   reaches the peer widens its window by one up to `maximumPerDestination`, each connection
///   failure narrows it by one (Postfix's concurrency feedback).
/// - Round robin: a freed slot goes to the next destination in turn that has work and room, so
///   a slow destination holds at most its own window, never the others' share.
/// - A bounded total (`maximumTotal`) of deliveries at once, all destinations together.
/// - Dead destinations: after `deadAfterFailures` consecutive connection failures, a destination
///   is dead until `deadTime` has passed; its waiting work and new work are refused at once (the
///   caller defers them without a connection attempt, as Postfix does). After that time one
///   delivery probes it again; one more failure makes it dead again.
///
/// `Waiter` is whatever the caller needs to resume work (a continuation; an integer in tests).
public struct DestinationScheduler<Waiter> {
    public typealias Configuration = SchedulingPolicy

    /// What a finished delivery says about its destination.
    public enum Feedback: Sendable, Equatable {
        /// A session with a peer was established (whatever the recipients' fate).
        case reachable
        /// No peer could be reached: refused, timed out, no greeting, DNS trouble.
        case unreachable(String)
        /// Nothing learned (a permanent DNS answer, a routing loop).
        case neutral
    }

    /// The answer to `submit`.
    public enum Admission: Equatable {
        case start
        case wait
        /// The destination is dead: defer without trying, with this reason.
        case dead(String)
    }

    public struct DeadDestination: Sendable, Equatable {
        public var destination: String
        public var reason: String
        public var until: Date
    }

    struct Destination {
        var waiting: [Waiter] = []
        var head = 0
        var active = 0
        var window: Int
        var consecutiveFailures = 0
        var dead: (reason: String, until: Date)?

        var waitingCount: Int { waiting.count - head }

        mutating func popFirst() -> Waiter? {
            guard head < waiting.count else { return nil }
            let w = waiting[head]
            head += 1
            if head > 64 && head * 2 > waiting.count {
                waiting.removeFirst(head)
                head = 0
            }
            return w
        }

        mutating func removeAll() -> [Waiter] {
            let all = Array(waiting[head...])
            waiting = []
            head = 0
            return all
        }
    }

    public let configuration: Configuration
    private var destinations: [String: Destination] = [:]
    /// Destinations with waiting work, in turn order.
    private var rotation: [String] = []
    private var cursor = 0
    public private(set) var totalActive = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Work for `destination` arrives: it may start now, must wait (then `waiter` is kept and
    /// handed back by `finished`), or is refused because the destination is dead.
    public mutating func submit(_ destination: String, waiter: Waiter, now: Date) -> Admission {
        var d = destinations[destination] ?? Destination(window: configuration.initialConcurrency)
        defer { destinations[destination] = d }
        if let dead = d.dead {
            if now < dead.until { return .dead(dead.reason) }
            // Dead time over: one probe (window 1); its failure makes the destination dead again.
            d.dead = nil
            d.window = 1
            d.consecutiveFailures = max(0, configuration.deadAfterFailures - 1)
        }
        if d.waitingCount == 0 && d.active < d.window && totalActive < configuration.maximumTotal {
            d.active += 1
            totalActive += 1
            return .start
        }
        if d.waitingCount == 0 { rotation.append(destination) }
        d.waiting.append(waiter)
        return .wait
    }

    /// A delivery to `destination` ended. Returns the waiters that may start now (their slots
    /// are taken), and those refused because the destination just died.
    public mutating func finished(_ destination: String, feedback: Feedback, now: Date)
        -> (start: [Waiter], refused: [Waiter], died: DeadDestination?) {
        var refused: [Waiter] = []
        var died: DeadDestination?
        if var d = destinations[destination] {
            d.active -= 1
            totalActive -= 1
            switch feedback {
            case .reachable:
                d.consecutiveFailures = 0
                d.window = min(d.window + 1, configuration.maximumPerDestination)
            case .unreachable(let reason):
                d.consecutiveFailures += 1
                d.window = max(1, d.window - 1)
                if d.consecutiveFailures >= configuration.deadAfterFailures && d.dead == nil {
                    let until = now.addingTimeInterval(configuration.deadTime)
                    d.dead = (reason, until)
                    died = DeadDestination(destination: destination, reason: reason, until: until)
                    refused = d.removeAll()
                    rotation.removeAll { $0 == destination }
                }
            case .neutral:
                break
            }
            if d.active == 0 && d.waitingCount == 0 && d.dead == nil && d.consecutiveFailures == 0
                && d.window >= configuration.initialConcurrency {
                // Nothing to remember: forget the destination (bounded memory with many domains).
                destinations[destination] = nil
            } else {
                destinations[destination] = d
            }
        }
        return (dispatch(), refused, died)
    }

    /// Hands free slots to waiting work, one destination at a time in turn.
    private mutating func dispatch() -> [Waiter] {
        var started: [Waiter] = []
        var idleTurns = 0
        while totalActive < configuration.maximumTotal && !rotation.isEmpty && idleTurns < rotation.count {
            if cursor >= rotation.count { cursor = 0 }
            let name = rotation[cursor]
            guard var d = destinations[name], d.active < d.window, let waiter = d.popFirst() else {
                cursor += 1
                idleTurns += 1
                continue
            }
            d.active += 1
            totalActive += 1
            started.append(waiter)
            idleTurns = 0
            if d.waitingCount == 0 {
                rotation.remove(at: cursor)
            } else {
                cursor += 1
            }
            destinations[name] = d
        }
        return started
    }

    /// Takes every waiting delivery out (shutdown: they are not started).
    public mutating func removeAllWaiting() -> [Waiter] {
        var all: [Waiter] = []
        for name in rotation {
            if var d = destinations[name] {
                all += d.removeAll()
                destinations[name] = d
            }
        }
        rotation = []
        return all
    }

    /// Destinations dead at `now`, for listings and logs.
    public func deadDestinations(now: Date) -> [DeadDestination] {
        destinations.compactMap { name, d in
            guard let dead = d.dead, now < dead.until else { return nil }
            return DeadDestination(destination: name, reason: dead.reason, until: dead.until)
        }.sorted { $0.destination < $1.destination }
    }

    /// The current window of a destination (for tests and status).
    public func window(_ destination: String) -> Int {
        destinations[destination]?.window ?? configuration.initialConcurrency
    }

    public func active(_ destination: String) -> Int { destinations[destination]?.active ?? 0 }
}

/// The limits `DestinationScheduler` keeps (Postfix: initial_destination_concurrency,
/// default_destination_concurrency_limit, default_process_limit,
/// destination_concurrency_failed_cohort_limit).
public struct SchedulingPolicy: Sendable, Equatable {
    public var initialConcurrency = 5
    public var maximumPerDestination = 20
    public var maximumTotal = 100
    public var deadAfterFailures = 5
    /// Seconds a dead destination is left alone.
    public var deadTime: TimeInterval = 300

    public init() {}
}
