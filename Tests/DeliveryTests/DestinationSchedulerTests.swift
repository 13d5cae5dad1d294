import Foundation
import MailQueue
import Testing

/// The queue manager's scheduling policy, without sockets: which delivery starts when.
@Suite("Destination scheduler")
struct DestinationSchedulerTests {
    typealias Scheduler = DestinationScheduler<Int>
    let now = Date(timeIntervalSince1970: 1_000_000)

    func policy(initial: Int = 2, perDestination: Int = 4, total: Int = 6, deadAfter: Int = 3) -> SchedulingPolicy {
        var p = SchedulingPolicy()
        p.initialConcurrency = initial
        p.maximumPerDestination = perDestination
        p.maximumTotal = total
        p.deadAfterFailures = deadAfter
        p.deadTime = 60
        return p
    }

    @Test func slowStartWidensOnSuccessUpToTheLimit() {
        var s = Scheduler(configuration: policy())
        #expect(s.submit("a", waiter: 1, now: now) == .start)
        #expect(s.submit("a", waiter: 2, now: now) == .start)
        #expect(s.submit("a", waiter: 3, now: now) == .wait)  // window 2
        #expect(s.submit("a", waiter: 4, now: now) == .wait)
        // A success widens the window to 3: the freed slot and the new one both start.
        let r = s.finished("a", feedback: .reachable, now: now)
        #expect(r.start == [3, 4])
        #expect(s.window("a") == 3)
        for _ in 0..<10 { _ = s.submit("a", waiter: 0, now: now); _ = s.finished("a", feedback: .reachable, now: now) }
        #expect(s.window("a") == 4)  // maximumPerDestination
    }

    @Test func aSlowDestinationDoesNotTakeTheOthersTurns() {
        var s = Scheduler(configuration: policy(initial: 2, total: 3))
        // "slow" fills its window; "fast" still starts within the total.
        #expect(s.submit("slow", waiter: 1, now: now) == .start)
        #expect(s.submit("slow", waiter: 2, now: now) == .start)
        #expect(s.submit("slow", waiter: 3, now: now) == .wait)
        #expect(s.submit("fast", waiter: 10, now: now) == .start)
        #expect(s.submit("fast", waiter: 11, now: now) == .wait)  // total 3 reached
        #expect(s.submit("fast", waiter: 12, now: now) == .wait)
        // Freed slots alternate between destinations with work, in turn.
        let first = s.finished("fast", feedback: .neutral, now: now).start
        let second = s.finished("slow", feedback: .neutral, now: now).start
        #expect(Set(first + second) == [3, 11])
        #expect(s.totalActive == 3)
    }

    @Test func consecutiveConnectionFailuresMakeADestinationDead() {
        var s = Scheduler(configuration: policy(initial: 3, deadAfter: 3))
        for w in 1...3 { #expect(s.submit("down", waiter: w, now: now) == .start) }
        for w in 4...6 { #expect(s.submit("down", waiter: w, now: now) == .wait) }
        _ = s.finished("down", feedback: .unreachable("refused"), now: now)
        _ = s.finished("down", feedback: .unreachable("refused"), now: now)
        let third = s.finished("down", feedback: .unreachable("refused"), now: now)
        #expect(third.died?.reason == "refused")
        // Waiting work (not started by the earlier finishes: the window shrank each time) is
        // refused at once, as is new work while dead.
        #expect(third.refused == [4, 5, 6])
        #expect(s.submit("down", waiter: 7, now: now.addingTimeInterval(30)) == .dead("refused"))
        #expect(s.deadDestinations(now: now).map(\.destination) == ["down"])
        // After the dead time one probe starts; its failure makes the destination dead again.
        let later = now.addingTimeInterval(61)
        #expect(s.submit("down", waiter: 8, now: later) == .start)
        #expect(s.submit("down", waiter: 9, now: later) == .wait)
        let probe = s.finished("down", feedback: .unreachable("still refused"), now: later)
        #expect(probe.died != nil)
        #expect(probe.refused == [9])
    }

    @Test func aSuccessResetsTheFailureCount() {
        var s = Scheduler(configuration: policy(initial: 1, deadAfter: 2))
        _ = s.submit("d", waiter: 1, now: now)
        _ = s.finished("d", feedback: .unreachable("x"), now: now)
        _ = s.submit("d", waiter: 2, now: now)
        _ = s.finished("d", feedback: .reachable, now: now)
        _ = s.submit("d", waiter: 3, now: now)
        #expect(s.finished("d", feedback: .unreachable("x"), now: now).died == nil)
    }

    @Test func manyDestinationsAreServedRoundRobinUnderTheTotal() {
        var s = Scheduler(configuration: policy(initial: 5, perDestination: 5, total: 4))
        var started: [Int] = []
        var waiting = 0
        // 3 destinations, 4 deliveries each: at most 4 at once, and as slots free up every
        // destination gets its turn before any gets a second one.
        for d in 0..<3 {
            for i in 0..<4 {
                switch s.submit("d\(d)", waiter: d * 10 + i, now: now) {
                case .start: started.append(d * 10 + i)
                case .wait: waiting += 1
                case .dead: Issue.record("not dead")
                }
            }
        }
        #expect(started == [0, 1, 2, 3])
        let next = (0..<3).flatMap { _ in s.finished("d0", feedback: .reachable, now: now).start }
        #expect(Set(next.map { $0 / 10 }) == [1, 2])
        #expect(s.removeAllWaiting().count == waiting - next.count)
    }
}
