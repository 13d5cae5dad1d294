import MailDNS
import Testing

@Suite("ResolverConfiguration")
struct ResolverConfigurationTests {
    @Test("resolv.conf: nameservers in order, IPv6 too, options, comments")
    func resolvConf() {
        let configuration = ResolverConfiguration.fromResolvConf(contents: """
            # generated
            ; another comment
            search example.test
            nameserver 192.0.2.53
            nameserver\t2001:db8::53
            nameserver fe80::1%eth0
            nameserver not-an-address
            options ndots:1 timeout:3 attempts:4 rotate
            """)
        #expect(configuration.nameservers.map(\.description) == ["192.0.2.53:53", "[2001:db8::53]:53"])
        #expect(configuration.timeout == .seconds(3))
        #expect(configuration.attempts == 4)
        #expect(!configuration.alwaysTCP)
    }

    @Test("no nameserver lines, a missing file: 127.0.0.1:53 and the defaults")
    func defaults() {
        for configuration in [ResolverConfiguration.fromResolvConf(contents: "search x\n"),
                              ResolverConfiguration.fromResolvConf(path: "/nonexistent/resolv.conf"),
                              ResolverConfiguration()] {
            #expect(configuration.nameservers == [Nameserver(address: ip("127.0.0.1"), port: 53)])
            #expect(configuration.timeout == .seconds(2))
            #expect(configuration.attempts == 2)
            #expect(configuration.ednsPayloadSize == 1232)
            #expect(configuration.tcpFallback)
        }
    }

    @Test("the machine's /etc/resolv.conf loads")
    func machine() {
        #expect(!ResolverConfiguration.fromResolvConf().nameservers.isEmpty)
    }

    @Test("out-of-range options are ignored; use-vc forces TCP; nameservers are capped")
    func options() {
        let many = (1...20).map { "nameserver 192.0.2.\($0)" }.joined(separator: "\n")
        let configuration = ResolverConfiguration.fromResolvConf(contents: many + "\noptions timeout:0 attempts:99 use-vc\n")
        #expect(configuration.nameservers.count == ResolverConfiguration.maxNameservers)
        #expect(configuration.timeout == .seconds(2))
        #expect(configuration.attempts == 2)
        #expect(configuration.alwaysTCP)
    }
}
