import NIOCore
import Testing
@testable import Delivery

@Suite("Mail loops: is the next hop myself?")
struct LocalHostTests {
    func host(_ listeners: [String], interfaces: [String] = ["192.0.2.10", "2001:db8::10"]) throws -> LocalHost {
        LocalHost(hostname: "mx.example.test",
                  listeners: try listeners.map { l in
                      let (ip, port) = (String(l.split(separator: "|")[0]), Int(l.split(separator: "|")[1])!)
                      return try SocketAddress(ipAddress: ip, port: port)
                  },
                  interfaceAddresses: { interfaces })
    }

    @Test func mxByNameOrBoundAddress() throws {
        let me = try host(["127.0.0.77|25"])
        #expect(me.isMyself(mailHost: MailHost(name: "MX.Example.Test.", preference: 10, addresses: ["198.51.100.1"])))
        #expect(me.isMyself(mailHost: MailHost(name: "mx.loop.test", preference: 10, addresses: ["127.0.0.77"])))
        // Another loopback address is another host here (two test servers on 127.0.0.71/.72).
        #expect(!me.isMyself(mailHost: MailHost(name: "mx.b.test", preference: 10, addresses: ["127.0.0.72"])))
        #expect(!me.isMyself(mailHost: MailHost(name: "mx.b.test", preference: 10, addresses: ["192.0.2.10"])))
    }

    @Test func wildcardListenerMeansEveryLocalAddress() throws {
        let me = try host(["0.0.0.0|25"])
        for local in ["127.0.0.1", "127.3.4.5", "192.0.2.10"] {
            #expect(me.isMyself(mailHost: MailHost(name: "mx.x.test", preference: 0, addresses: [local])), "\(local)")
        }
        #expect(!me.isMyself(mailHost: MailHost(name: "mx.x.test", preference: 0, addresses: ["198.51.100.1"])))
        let v6 = try host(["::|25"])
        #expect(v6.isMyself(mailHost: MailHost(name: "mx.x.test", preference: 0, addresses: ["2001:db8:0::10"])))
        #expect(v6.isMyself(mailHost: MailHost(name: "mx.x.test", preference: 0, addresses: ["::1"])))
    }

    /// A fixed next hop on this host is a loop only on our listener's port: transports to other
    /// servers on 127.0.0.1 are how tests (and relays on one machine) work.
    @Test func transportNeedsAddressAndPort() throws {
        let me = try host(["127.0.0.1|2525"])
        #expect(me.isMyself(host: "127.0.0.1", port: 2525))
        #expect(!me.isMyself(host: "127.0.0.1", port: 2526))
        #expect(me.isMyself(host: "mx.example.test", port: 2525))
        #expect(!me.isMyself(host: "relay.example.test", port: 2525))
        #expect(try host(["0.0.0.0|25"]).isMyself(host: "[127.0.0.9]", port: 25))
    }
}
