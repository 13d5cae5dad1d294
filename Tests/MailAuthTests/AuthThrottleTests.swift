import Testing

@testable import MailAuth

@Suite("Auth failure throttle")
struct AuthThrottleTests {
    static func make(_ configuration: AuthThrottle.Configuration = .init()) -> (AuthThrottle, ManualClock) {
        let clock = ManualClock()
        return (AuthThrottle(configuration: configuration, now: { clock.now }), clock)
    }

    @Test func delayDoublesUpToTheCap() async {
        let (throttle, clock) = Self.make()
        #expect(await throttle.delayBeforeAttempt(for: "192.0.2.1") == .zero)
        let expected: [Duration] = [
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8),
            .seconds(15), .seconds(15), .seconds(15),
        ]
        for (index, delay) in expected.enumerated() {
            #expect(await throttle.recordFailure(client: "192.0.2.1", login: "u@x.test") == delay)
            #expect(await throttle.delayBeforeAttempt(for: "192.0.2.1") == delay)
            #expect(await throttle.failureCount(for: "192.0.2.1") == index + 1)
            clock.advance(by: .seconds(30))
        }
        for _ in 0..<200 { await throttle.recordFailure(client: "192.0.2.1", login: "u@x.test") }
        #expect(await throttle.delayBeforeAttempt(for: "192.0.2.1") == .seconds(15))
        #expect(await throttle.failureCount(for: "192.0.2.1") == AuthThrottle.maximumCountedFailures)
        // Other clients are unaffected.
        #expect(await throttle.delayBeforeAttempt(for: "192.0.2.2") == .zero)
    }

    /// The audit's finding: an attacker guessing at alice's password from one address must not
    /// clear its penalty by logging in to its own account from there.
    @Test func successOfAnotherAccountKeepsThePenalty() async {
        let (throttle, _) = Self.make()
        for _ in 0..<3 { await throttle.recordFailure(client: "192.0.2.9", login: "alice@x.test") }
        await throttle.recordSuccess(client: "192.0.2.9", login: "mallory@x.test")
        #expect(await throttle.delayBeforeAttempt(for: "192.0.2.9") == .seconds(1))
        // Nor by mixing its own account into the failures.
        await throttle.recordFailure(client: "192.0.2.9", login: "mallory@x.test")
        await throttle.recordSuccess(client: "192.0.2.9", login: "mallory@x.test")
        #expect(await throttle.delayBeforeAttempt(for: "192.0.2.9") == .seconds(2))
    }

    @Test func successForgetsOwnTypos() async {
        let (throttle, _) = Self.make()
        await throttle.recordFailure(client: "192.0.2.1", login: "u@x.test")
        await throttle.recordFailure(client: "192.0.2.1", login: "u@x.test")
        await throttle.recordSuccess(client: "192.0.2.1", login: "u@x.test")
        #expect(await throttle.delayBeforeAttempt(for: "192.0.2.1") == .zero)
        #expect(await throttle.recordFailure(client: "192.0.2.1", login: "u@x.test") == .milliseconds(250))
    }

    @Test func forgottenAfterQuietPeriod() async {
        let (throttle, clock) = Self.make()
        for _ in 0..<5 { await throttle.recordFailure(client: "198.51.100.7", login: "u@x.test") }
        clock.advance(by: .seconds(15 * 60) - .seconds(1))
        #expect(await throttle.delayBeforeAttempt(for: "198.51.100.7") == .seconds(4))
        // Each failure restarts the quiet period.
        await throttle.recordFailure(client: "198.51.100.7", login: "u@x.test")
        clock.advance(by: .seconds(15 * 60) - .seconds(1))
        #expect(await throttle.delayBeforeAttempt(for: "198.51.100.7") == .seconds(8))
        clock.advance(by: .seconds(1))
        #expect(await throttle.delayBeforeAttempt(for: "198.51.100.7") == .zero)
        #expect(await throttle.failureCount(for: "198.51.100.7") == 0)
        #expect(await throttle.recordFailure(client: "198.51.100.7", login: "u@x.test") == .milliseconds(250))
    }

    @Test func expiredEntriesArePurged() async {
        let (throttle, clock) = Self.make()
        for index in 0..<500 { await throttle.recordFailure(client: "10.0.\(index / 256).\(index % 256)", login: "u@x.test") }
        #expect(await throttle.trackedClientCount == 500)
        clock.advance(by: .seconds(16 * 60))
        await throttle.recordFailure(client: "10.9.9.9", login: "u@x.test")
        #expect(await throttle.trackedClientCount == 1)
    }

    @Test func tableIsBounded() async {
        let (throttle, clock) = Self.make(.init(maximumEntries: 100))
        for index in 0..<1000 {
            await throttle.recordFailure(client: "10.1.\(index / 256).\(index % 256)", login: "u@x.test")
            clock.advance(by: .milliseconds(1))
        }
        #expect(await throttle.trackedClientCount == 100)
        // The least recently failed went first; the latest are still there.
        #expect(await throttle.failureCount(for: "10.1.0.0") == 0)
        #expect(await throttle.failureCount(for: "10.1.3.231") == 1)  // index 999
        #expect(await throttle.failureCount(for: "10.1.3.132") == 1)  // index 900
        #expect(await throttle.failureCount(for: "10.1.3.131") == 0)  // index 899
    }

    @Test func repeatOffenderSurvivesEviction() async {
        let (throttle, clock) = Self.make(.init(maximumEntries: 10))
        for index in 0..<100 {
            await throttle.recordFailure(client: "203.0.113.1", login: "u@x.test")
            await throttle.recordFailure(client: "10.2.0.\(index)", login: "u@x.test")
            clock.advance(by: .milliseconds(1))
        }
        #expect(await throttle.trackedClientCount == 10)
        #expect(await throttle.delayBeforeAttempt(for: "203.0.113.1") == .seconds(15))
    }

    @Test func manyFailuresFromFewClients() async {
        // The internal time-ordered list must not grow without bound.
        let (throttle, clock) = Self.make(.init(maximumEntries: 4))
        for index in 0..<20_000 {
            await throttle.recordFailure(client: "10.3.0.\(index % 3)", login: "u@x.test")
            clock.advance(by: .milliseconds(1))
        }
        #expect(await throttle.trackedClientCount == 3)
        #expect(await throttle.delayBeforeAttempt(for: "10.3.0.0") == .seconds(15))
    }

    @Test func ipv6SharesPer64() async {
        let (throttle, _) = Self.make()
        await throttle.recordFailure(client: "2001:db8:1:2::1", login: "u@x.test")
        await throttle.recordFailure(client: "2001:db8:1:2:ffff:ffff:ffff:ffff", login: "u@x.test")
        #expect(await throttle.delayBeforeAttempt(for: "2001:db8:1:2:abcd::9") == .milliseconds(500))
        #expect(await throttle.delayBeforeAttempt(for: "2001:db8:1:3::1") == .zero)
    }

    @Test("keys", arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("::FFFF:c000:0201", "192.0.2.1"),
        ("2001:db8::1", "2001:db8:0:0::/64"),
        ("2001:0DB8:0001:0002:0003:0004:0005:0006", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::7]", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80:0:0:0::/64"),
        ("::1", "0:0:0:0::/64"),
        ("/run/swallow.sock", "/run/swallow.sock"),
        ("not an address", "not an address"),
        ("192.0.2.1:25", "192.0.2.1:25"),
    ])
    func key(client: String, expected: String) {
        #expect(AuthThrottle.key(for: client) == expected)
    }

    @Test func customConfiguration() async {
        let (throttle, _) = Self.make(.init(baseDelay: .seconds(1), maximumDelay: .seconds(3)))
        #expect(await throttle.recordFailure(client: "a", login: "u@x.test") == .seconds(1))
        #expect(await throttle.recordFailure(client: "a", login: "u@x.test") == .seconds(2))
        #expect(await throttle.recordFailure(client: "a", login: "u@x.test") == .seconds(3))
        #expect(await throttle.recordFailure(client: "a", login: "u@x.test") == .seconds(3))
    }

    @Test func defaultClockWorks() async {
        let throttle = AuthThrottle()
        #expect(await throttle.recordFailure(client: "192.0.2.1", login: "u@x.test") == .milliseconds(250))
        #expect(await throttle.delayBeforeAttempt(for: "192.0.2.1") == .milliseconds(250))
    }
}
