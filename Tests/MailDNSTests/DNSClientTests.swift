import MailDNS
import Synchronization
import Testing

/// Generous defaults so a loaded CI machine does not turn a slow answer into a timeout; tests that
/// expect timeouts pass short ones.
func client(_ servers: [Nameserver], timeout: Duration = .seconds(2), attempts: Int = 2,
            _ configure: (inout ResolverConfiguration) -> Void = { _ in }) -> DNSClient {
    var configuration = ResolverConfiguration(nameservers: servers, timeout: timeout, attempts: attempts)
    configure(&configuration)
    return DNSClient(configuration: configuration)
}

let aQuestion = DNSQuestion(name: name("host.test"), type: .a)

func aRecord(_ address: String) -> DNSResourceRecord {
    rr("host.test", .a(ip(address)))
}

/// The A addresses in a response, as text.
func addresses(_ message: DNSMessage) -> [String] {
    message.answers.compactMap { if case .a(let a) = $0.data { a.description } else { nil } }
}

/// Runs `body` and returns the DNSError it throws (nil on success) and how long it took.
func timed<T>(_ body: () async throws(DNSError) -> T) async -> (DNSError?, Duration) {
    let start = ContinuousClock.now
    let error = await dnsError(body)
    return (error, start.duration(to: .now))
}

/// Transport edge cases against a scripted server on 127.0.0.1 (RFC 5452, RFC 7766, RFC 6891).
@Suite("DNSClient (scripted server)")
struct DNSClientTests {
    @Test("forged datagrams are dropped without ending the wait; the real answer wins")
    func forgeriesIgnored() async throws {
        let server = try await FakeDNSServer.start { query, _ in
            var wrongID = answer(query, [aRecord("203.0.113.1")])
            wrongID.header.id ^= 0x5A5A
            var otherQuestion = answer(query, [aRecord("203.0.113.2")])
            otherQuestion.questions = [DNSQuestion(name: name("other.test"), type: .a)]
            var notResponse = answer(query, [aRecord("203.0.113.3")])
            notResponse.header.isResponse = false
            return [
                .raw(try! DNSEncoder.encode(wrongID)),
                .spoofed(answer(query, [aRecord("203.0.113.4")])),
                .message(otherQuestion),
                .message(notResponse),
                .raw([0xDE, 0xAD]),
                .message(answer(query, [aRecord("192.0.2.1")])),
            ]
        }
        defer { Task { await server.stop() } }
        for _ in 0..<10 {
            let response = try await client([server.nameserver]).query(aQuestion)
            #expect(addresses(response) == ["192.0.2.1"])
        }
    }

    @Test("only forgeries: a timeout, in bounded time")
    func onlyForgeries() async throws {
        let server = try await FakeDNSServer.start { query, _ in
            var wrongID = answer(query, [aRecord("203.0.113.1")])
            wrongID.header.id &+= 1
            return [.raw(try! DNSEncoder.encode(wrongID)), .spoofed(answer(query, [aRecord("203.0.113.4")]))]
        }
        defer { Task { await server.stop() } }
        let (error, elapsed) = await timed { () async throws(DNSError) in
            try await client([server.nameserver], timeout: .milliseconds(300), attempts: 2).query(aQuestion)
        }
        #expect(error == .timeout)
        #expect(elapsed >= .milliseconds(550), "\(elapsed)")
        #expect(server.udpQueries == 2)
    }

    @Test("a response with our ID that does not parse is reported as malformed, not as a timeout")
    func garbageWithOurID() async throws {
        let server = try await FakeDNSServer.start { query, _ in
            let bytes = FakeDNSServer.reply(answer(query, [aRecord("192.0.2.1")]), to: query)
            return [.raw(Array(bytes.prefix(bytes.count - 2)))]
        }
        defer { Task { await server.stop() } }
        let error = await dnsError { () async throws(DNSError) in
            try await client([server.nameserver], timeout: .milliseconds(300), attempts: 1).query(aQuestion)
        }
        guard case .malformed = error else { Issue.record("\(String(describing: error))"); return }
    }

    @Test("TC=1 over UDP: asked again over TCP (RFC 7766 §5)")
    func truncationFallsBackToTCP() async throws {
        let server = try await FakeDNSServer.start { query, transport in
            transport == .udp
                ? [.message(answer(query, [aRecord("192.0.2.1")], truncated: true))]
                : [.message(answer(query, (1...200).map { aRecord("192.0.2.\($0)") }))]
        }
        defer { Task { await server.stop() } }
        let response = try await client([server.nameserver]).query(aQuestion)
        #expect(addresses(response).count == 200)
        #expect(server.udpQueries == 1 && server.tcpQueries == 1)

        let noTCP = await dnsError { () async throws(DNSError) in
            try await client([server.nameserver]) { $0.tcpFallback = false }.query(aQuestion)
        }
        #expect(noTCP == .truncatedWithoutTCP)
    }

    @Test("TC=1 but TCP does not answer: truncatedWithoutTCP")
    func truncationWithBrokenTCP() async throws {
        let server = try await FakeDNSServer.start { query, transport in
            transport == .udp ? [.message(answer(query, [], truncated: true))] : [.drop]
        }
        defer { Task { await server.stop() } }
        let error = await dnsError { () async throws(DNSError) in
            try await client([server.nameserver], timeout: .milliseconds(300), attempts: 1).query(aQuestion)
        }
        #expect(error == .truncatedWithoutTCP)
    }

    @Test("alwaysTCP sends over TCP only; a mismatched TCP response is malformed")
    func alwaysTCP() async throws {
        let server = try await FakeDNSServer.start { query, _ in [.message(answer(query, [aRecord("192.0.2.9")]))] }
        defer { Task { await server.stop() } }
        let response = try await client([server.nameserver]) { $0.alwaysTCP = true }.query(aQuestion)
        #expect(addresses(response) == ["192.0.2.9"])
        #expect(server.udpQueries == 0 && server.tcpQueries == 1)

        let liar = try await FakeDNSServer.start { query, _ in
            var wrong = answer(query, [])
            wrong.header.id ^= 1
            return [.raw(try! DNSEncoder.encode(wrong))]
        }
        defer { Task { await liar.stop() } }
        let error = await dnsError { () async throws(DNSError) in
            try await client([liar.nameserver]) { $0.alwaysTCP = true }.query(aQuestion)
        }
        guard case .malformed = error else { Issue.record("\(String(describing: error))"); return }
    }

    @Test("a TCP response arriving in tiny pieces is reassembled")
    func chunkedTCP() async throws {
        let server = try await FakeDNSServer.start { query, _ in
            [.chunked(answer(query, (1...50).map { aRecord("192.0.2.\($0)") }))]
        }
        defer { Task { await server.stop() } }
        let response = try await client([server.nameserver]) { $0.alwaysTCP = true }.query(aQuestion)
        #expect(addresses(response).count == 50)
    }

    @Test("a UDP answer larger than the advertised size (and NIO's 2048-octet default buffer) is read whole")
    func oversizedUDP() async throws {
        let server = try await FakeDNSServer.start { query, _ in
            [.message(answer(query, (1...250).map { aRecord("192.0.2.\($0)") }))]
        }
        defer { Task { await server.stop() } }
        let response = try await client([server.nameserver]).query(aQuestion)
        #expect(addresses(response).count == 250)
        #expect(server.tcpQueries == 0)
    }

    @Test("FORMERR to an EDNS query: asked again without OPT (RFC 6891 §7)")
    func ednsFallback() async throws {
        let server = try await FakeDNSServer.start { query, _ in
            if query.edns != nil {
                var formerr = answer(query, [], rcode: 1)
                formerr.questions = []
                return [.message(formerr)]
            }
            return [.message(answer(query, [aRecord("192.0.2.5")]))]
        }
        defer { Task { await server.stop() } }
        let response = try await client([server.nameserver]).query(aQuestion)
        #expect(addresses(response) == ["192.0.2.5"])
        #expect(server.udpQueries == 2)
    }

    @Test("SERVFAIL and REFUSED move on to the next nameserver; NXDOMAIN does not")
    func rcodes() async throws {
        let servfail = try await FakeDNSServer.start { query, _ in [.message(answer(query, [], rcode: 2))] }
        let refused = try await FakeDNSServer.start { query, _ in [.message(answer(query, [], rcode: 5))] }
        let good = try await FakeDNSServer.start { query, _ in [.message(answer(query, [aRecord("192.0.2.8")]))] }
        let nx = try await FakeDNSServer.start { query, _ in [.message(answer(query, [], rcode: 3))] }
        defer { Task { for s in [servfail, refused, good, nx] { await s.stop() } } }

        let response = try await client([servfail.nameserver, refused.nameserver, good.nameserver]).query(aQuestion)
        #expect(addresses(response) == ["192.0.2.8"])
        #expect(await dnsError { () async throws(DNSError) in
            try await client([servfail.nameserver], attempts: 2).query(aQuestion) } == .serverFailure)
        #expect(servfail.udpQueries == 3)
        #expect(await dnsError { () async throws(DNSError) in try await client([refused.nameserver]).query(aQuestion) } == .refused)

        let negative = try await client([nx.nameserver, good.nameserver]).query(aQuestion)
        #expect(negative.responseCode == .nameError)
        #expect(good.udpQueries == 1, "an NXDOMAIN is an answer: the next server is not asked")
    }

    @Test("a silent nameserver times out and the next one answers; rounds repeat the list")
    func timeoutThenNext() async throws {
        let silent = try await FakeDNSServer.start { _, _ in [.drop] }
        let good = try await FakeDNSServer.start { query, _ in [.message(answer(query, [aRecord("192.0.2.6")]))] }
        defer { Task { await silent.stop(); await good.stop() } }
        let start = ContinuousClock.now
        let response = try await client([silent.nameserver, good.nameserver], timeout: .milliseconds(500)).query(aQuestion)
        #expect(addresses(response) == ["192.0.2.6"])
        // The silent server was asked once, then the next one answered (no timing asserted:
        // CI load stretches wall-clock time; the lower bounds below are the behaviour).
        #expect(silent.udpQueries == 1 && good.udpQueries == 1)
        #expect(start.duration(to: .now) >= .milliseconds(500))

        let (error, elapsed) = await timed { () async throws(DNSError) in
            try await client([silent.nameserver, silent.nameserver], timeout: .milliseconds(200), attempts: 2).query(aQuestion)
        }
        #expect(error == .timeout)
        #expect(silent.udpQueries >= 1 + 4)
        #expect(elapsed >= .milliseconds(750), "\(elapsed)")
    }

    @Test("every query carries a fresh random ID")
    func randomIDs() async throws {
        let ids = Mutex<[UInt16]>([])
        let server = try await FakeDNSServer.start { query, _ in
            ids.withLock { $0.append(query.header.id) }
            return [.message(answer(query, [aRecord("192.0.2.1")]))]
        }
        defer { Task { await server.stop() } }
        let dns = client([server.nameserver])
        for _ in 0..<32 { _ = try await dns.query(aQuestion) }
        let seen = ids.withLock { $0 }
        #expect(seen.count == 32 && Set(seen).count >= 28)
    }

    @Test("cancelling a lookup ends it promptly")
    func cancellation() async throws {
        let silent = try await FakeDNSServer.start { _, _ in [.drop] }
        defer { Task { await silent.stop() } }
        let dns = client([silent.nameserver], timeout: .seconds(30))
        let start = ContinuousClock.now
        let task = Task { try await dns.query(aQuestion) }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let result = await task.result
        #expect(throws: DNSError.self) { try result.get() }
        // Well before the 30 s timeout: the cancellation, not the deadline, ended it.
        #expect(start.duration(to: .now) < .seconds(25))
    }
}
