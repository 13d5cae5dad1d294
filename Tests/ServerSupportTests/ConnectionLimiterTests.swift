import MailCore
import ServerSupport
import Testing

@Suite("Connection limits")
struct ConnectionLimiterTests {
    /// The audit: any IPv6 address written with `::` bypassed the per-client limit.
    @Test func ipv6ClientsCountPerSlash64HoweverWritten() {
        let limiter = ConnectionLimiter(limitPerClient: 2, limitTotal: 100)
        #expect(limiter.acquire("2001:db8:1:2::1") == .admitted)
        #expect(limiter.acquire("2001:DB8:1:2:0:0:0:77") == .admitted)
        #expect(limiter.acquire("[2001:db8:1:2::ffff]") == .tooManyFromClient)
        #expect(limiter.acquire("2001:db8:1:3::1") == .admitted, "another /64 is another client")
        limiter.release("2001:0db8:0001:0002::1")
        #expect(limiter.acquire("2001:db8:1:2::9") == .admitted)
    }

    @Test func totalCapAppliesAcrossClients() {
        let limiter = ConnectionLimiter(limitPerClient: 10, limitTotal: 3)
        for i in 1...3 { #expect(limiter.acquire("192.0.2.\(i)") == .admitted) }
        #expect(limiter.acquire("192.0.2.9") == .tooManyInTotal)
        limiter.release("192.0.2.1")
        #expect(limiter.acquire("192.0.2.9") == .admitted)
        #expect(limiter.total == 3)
    }

    @Test func clientKeys() {
        #expect(ClientKey.of("192.0.2.1") == "192.0.2.1")
        #expect(ClientKey.of("::ffff:192.0.2.1") == "192.0.2.1")
        #expect(ClientKey.of("2001:db8::1") == ClientKey.of("2001:0db8:0000:0000:ffff::2"))
        #expect(ClientKey.of("2001:db8::1") == "2001:db8:0:0::/64")
        #expect(ClientKey.of("fe80::1%eth0") == ClientKey.of("fe80::2"))
        #expect(ClientKey.of("/run/socket") == "/run/socket")
    }
}
