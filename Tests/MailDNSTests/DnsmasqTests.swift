import MailDNS
import Testing

/// The resolver against a real DNS server: dnsmasq (PEERS.md) on a free 127.0.0.1 port, started
/// per test and stopped by PID at its end.
@Suite("dnsmasq interop")
struct DnsmasqTests {
    static let tlsaHex = "030101" + String(repeating: "ab", count: 32)

    static let records: [String] = [
        "--mx-host=b.test,mx2.b.test,20",
        "--mx-host=b.test,mx.b.test,10",
        "--mx-host=b.test,mx5.b.test,5",
        "--host-record=mx.b.test,127.0.0.2",
        "--mx-host=null.test,.,0",
        "--host-record=amx.test,127.0.0.3",
        "--host-record=dual.test,127.0.0.4,::1",
        "--host-record=v6.test,::2",
        "--txt-record=txt.test,v=spf1 -all",
        "--txt-record=multi.test,part one,part two",
        "--cname=alias.test,amx.test",
        "--cname=alias2.test,alias.test",
        "--dns-rr=_25._tcp.mx.b.test,52,\(tlsaHex)",
    ]
    // 40 TXT records of ~70 octets: ~3 KB, far past both 512 and 1232 octets, so dnsmasq sets TC.
    + (1...40).map { "--txt-record=big.test,record \($0) " + String(repeating: "x", count: 60) }
    // 120 A records for one name: ~2 KB.
    + (1...120).map { "--host-record=many.test,127.0.1.\($0)" }

    static func resolver(_ server: Nameserver, _ configure: (inout ResolverConfiguration) -> Void = { _ in }) -> DNSResolver {
        var configuration = ResolverConfiguration(nameservers: [server], timeout: .seconds(2), attempts: 2)
        configure(&configuration)
        return DNSResolver(configuration: configuration)
    }

    @Test("MX with preferences, sorted, and their addresses")
    func mx() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            let r = Self.resolver(server)
            #expect(try await r.mx("b.test") == .hosts([
                MXHost(preference: 5, host: "mx5.b.test"), MXHost(preference: 10, host: "mx.b.test"),
                MXHost(preference: 20, host: "mx2.b.test"),
            ]))
            #expect(try await r.addresses("mx.b.test") == [ip("127.0.0.2")])
            #expect(try await r.mx("B.TEST.") == r.mx("b.test"))
        }
    }

    @Test("null MX (RFC 7505)")
    func nullMX() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            #expect(try await Self.resolver(server).mx("null.test") == .nullMX)
        }
    }

    @Test("no MX: A fallback (RFC 5321 §5.1), also through CNAMEs")
    func implicitMX() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            let r = Self.resolver(server)
            #expect(try await r.mx("amx.test") == .noMX(implicitHosts: ["amx.test"]))
            #expect(try await r.addresses("amx.test") == [ip("127.0.0.3")])
            #expect(try await r.mx("alias.test") == .noMX(implicitHosts: ["alias.test"]))
        }
    }

    @Test("NXDOMAIN, NODATA and REFUSED are told apart")
    func negatives() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            let r = Self.resolver(server)
            #expect(await dnsError { () async throws(DNSError) in try await r.mx("nope.test") } == .nxdomain)
            #expect(await dnsError { () async throws(DNSError) in try await r.addresses("nope.test") } == .nxdomain)
            // b.test has MX records but no address: NODATA for A and AAAA.
            #expect(await dnsError { () async throws(DNSError) in try await r.addresses("b.test") } == .noData)
            #expect(await dnsError { () async throws(DNSError) in try await r.txt("amx.test") } == .noData)
            // Outside --local=/test/ and with no upstream, dnsmasq refuses.
            let refused = await dnsError { () async throws(DNSError) in try await r.mx("example.invalid") }
            #expect(refused == .refused && refused?.isTemporary == true)
        }
    }

    @Test("TXT records, one and several character-strings")
    func txt() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            let r = Self.resolver(server)
            #expect(try await r.txt("txt.test").map(\.text) == ["v=spf1 -all"])
            let multi = try await r.txt("multi.test")
            #expect(multi.first?.strings == [Array("part one".utf8), Array("part two".utf8)])
            #expect(multi.first?.text == "part onepart two")
        }
    }

    @Test("CNAME chains")
    func cname() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            let r = Self.resolver(server)
            let answer = try await r.lookup(name("alias2.test"), .a)
            #expect(answer.canonicalName == name("amx.test"))
            #expect(answer.cnameChain.count == 2)
            #expect(try await r.addresses("alias2.test") == [ip("127.0.0.3")])
        }
    }

    @Test("AAAA, and both families in the configured order")
    func aaaa() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            #expect(try await Self.resolver(server).addresses("v6.test") == [ip("::2")])
            #expect(try await Self.resolver(server).addresses("dual.test") == [ip("127.0.0.4"), ip("::1")])
            #expect(try await Self.resolver(server) { $0.addressOrder = .ipv6First }.addresses("dual.test")
                == [ip("::1"), ip("127.0.0.4")])
        }
    }

    @Test("TLSA records (for DANE) and PTR")
    func tlsaAndPTR() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            let r = Self.resolver(server)
            let tlsa = try await r.tlsa("_25._tcp.mx.b.test")
            #expect(tlsa.records == [TLSARecord(certificateUsage: 3, selector: 1, matchingType: 1,
                                                certificateAssociationData: [UInt8](repeating: 0xAB, count: 32))])
            #expect(!tlsa.authenticated, "dnsmasq does not validate here, so AD is clear")
            #expect(try await r.reverse(ip("127.0.0.2")) == ["mx.b.test"])
        }
    }

    @Test("large answers: dnsmasq sets TC over UDP and the resolver retries over TCP")
    func tcpFallback() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            // The transport alone first, to see the truncation happen.
            let probe = DNSClient(configuration: ResolverConfiguration(nameservers: [server], tcpFallback: false))
            let cut = await dnsError { () async throws(DNSError) in
                try await probe.query(DNSQuestion(name: name("big.test"), type: .txt))
            }
            #expect(cut == .truncatedWithoutTCP, "dnsmasq truncates a ~3 KB answer")

            let r = Self.resolver(server)
            let txt = try await r.txt("big.test")
            #expect(txt.count == 40)
            #expect(Set(txt.map(\.text)).count == 40)
            #expect(try await r.addresses("many.test").count == 120)
            // Without EDNS the UDP limit is 512 octets (RFC 1035 §4.2.1): still complete.
            let classic = Self.resolver(server) { $0.ednsPayloadSize = nil }
            #expect(try await classic.txt("big.test").count == 40)
            // And TCP only.
            let tcp = Self.resolver(server) { $0.alwaysTCP = true }
            #expect(try await tcp.mx("b.test") == Self.resolver(server).mx("b.test"))
        }
    }

    @Test("a nameserver where nothing listens: timeout in bounded time, then the next one answers")
    func timeoutAndFallback() async throws {
        try await Dnsmasq.run(Self.records) { server async throws in
            let closed = Nameserver(address: ip("127.0.0.1"), port: try freePort())
            let dead = DNSResolver(configuration: ResolverConfiguration(nameservers: [closed], timeout: .milliseconds(300),
                                                                        attempts: 2))
            let (error, elapsed) = await timed { () async throws(DNSError) in try await dead.mx("b.test") }
            #expect(error == .timeout && error?.isTemporary == true)
            #expect(elapsed >= .milliseconds(550), "\(elapsed)")

            let fallback = DNSResolver(configuration: ResolverConfiguration(nameservers: [closed, server],
                                                                            timeout: .milliseconds(500), attempts: 2))
            #expect(try await fallback.mx("null.test") == .nullMX)
        }
    }

    @Test("answers are cached for dnsmasq's TTL: a second lookup does not need the server")
    func cacheAgainstServer() async throws {
        // dnsmasq serves its local records with TTL 0 (never cache) unless --local-ttl says otherwise.
        let r = try await Dnsmasq.run(Self.records + ["--local-ttl=300"]) { server async throws in
            let r = Self.resolver(server) { $0.timeout = .seconds(1); $0.attempts = 1 }
            _ = try await r.mx("b.test")
            return r
        }
        // dnsmasq has been stopped by now.
        let cached = try #require(r.cache.lookup(name("b.test"), .mx))
        #expect(try cached.get().records.allSatisfy { $0.ttl <= 300 && $0.ttl > 250 })
        #expect(try await r.mx("b.test") == .hosts([
            MXHost(preference: 5, host: "mx5.b.test"), MXHost(preference: 10, host: "mx.b.test"),
            MXHost(preference: 20, host: "mx2.b.test"),
        ]))
        #expect(await dnsError { () async throws(DNSError) in try await r.mx("amx.test") } == .timeout)
    }
}
