import Foundation
import MailDNS
import NIOCore
import NIOPosix
import Synchronization
import Testing
@_exported import TestSupport

func name(_ text: String) -> DNSName {
    try! DNSName(text)
}

func ip(_ text: String) -> InternetAddress {
    InternetAddress(text)!
}

/// Wire bytes for hand-built packets.
struct PacketBuilder {
    var bytes: [UInt8] = []

    init(id: UInt16 = 0x1234, flags: UInt16 = 0x8180, qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) {
        for value in [id, flags, qd, an, ns, ar] { u16(value) }
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
    mutating func u32(_ value: UInt32) { u16(UInt16(value >> 16)); u16(UInt16(value & 0xFFFF)) }

    /// Uncompressed labels, ending with the root unless `terminate` is false.
    mutating func labels(_ text: String, terminate: Bool = true) {
        for label in text.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        if terminate { bytes.append(0) }
    }

    mutating func pointer(_ offset: Int) { u16(0xC000 | UInt16(offset)) }

    mutating func question(_ text: String, type: UInt16, qclass: UInt16 = 1) {
        labels(text)
        u16(type)
        u16(qclass)
    }

    /// Record header after the owner name: TYPE CLASS TTL RDLENGTH.
    mutating func recordHeader(type: UInt16, ttl: UInt32 = 300, rdlength: Int, qclass: UInt16 = 1) {
        u16(type)
        u16(qclass)
        u32(ttl)
        u16(UInt16(rdlength))
    }
}

/// A settable monotonic clock for cache tests.
final class ManualClock: Sendable {
    private let current = Mutex(Duration.seconds(1000))

    var now: Duration { current.withLock { $0 } }

    func advance(by seconds: Int) {
        current.withLock { $0 += .seconds(seconds) }
    }

    var dnsClock: DNSClock { DNSClock { self.now } }
}

/// Responses built from a small zone, for resolver logic tests without sockets.
final class ZoneTransport: DNSTransport {
    struct State {
        var queries: [DNSQuestion] = []
    }

    /// Records by owner; names not present answer NXDOMAIN, names present without the asked
    /// type answer NODATA (with an SOA when `soaTTL` is set).
    let records: [DNSResourceRecord]
    let soaTTL: UInt32?
    /// Names that fail with this error instead of answering.
    let failures: [DNSQuestion: DNSError]
    /// Follow CNAMEs inside one response, as a recursive resolver does; false stops at the CNAME.
    let chaseCNAMEs: Bool
    let authenticated: Bool
    let state = Mutex(State())

    init(_ records: [DNSResourceRecord], soaTTL: UInt32? = nil, failures: [DNSQuestion: DNSError] = [:],
         chaseCNAMEs: Bool = true, authenticated: Bool = false) {
        self.records = records
        self.soaTTL = soaTTL
        self.failures = failures
        self.chaseCNAMEs = chaseCNAMEs
        self.authenticated = authenticated
    }

    var queries: [DNSQuestion] { state.withLock { $0.queries } }

    func query(_ question: DNSQuestion) async throws(DNSError) -> DNSMessage {
        state.withLock { $0.queries.append(question) }
        if let failure = failures[question] { throw failure }
        var response = DNSMessage(header: DNSHeader(id: 1, isResponse: true, recursionAvailable: true,
                                                    authenticData: authenticated),
                                  questions: [question])
        var current = question.name
        var hops = 0
        while hops < 20 {
            hops += 1
            let owned = records.filter { $0.name == current }
            let matching = owned.filter { $0.type == question.type }
            if !matching.isEmpty {
                response.answers += matching
                return response
            }
            if let cname = owned.first(where: { $0.type == .cname }), case .cname(let next) = cname.data {
                response.answers.append(cname)
                current = next
                if !chaseCNAMEs { return response }
                continue
            }
            if owned.isEmpty { response.header.rcode = 3 }
            if let soaTTL {
                response.authorities.append(DNSResourceRecord(
                    name: name("test"), ttl: soaTTL,
                    data: .soa(SOARecord(primaryNameServer: name("ns.test"), responsibleMailbox: name("hostmaster.test"),
                                         serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60))))
            }
            return response
        }
        return response
    }
}

/// What the scripted server does with one query.
enum FakeReply: Sendable {
    /// Answer with this message (its ID is set to the query's).
    case message(DNSMessage)
    /// Send these bytes as they are.
    case raw([UInt8])
    /// Send this message from another port of 127.0.0.1: a spoofer's datagram.
    case spoofed(DNSMessage)
    /// Over TCP: the length prefix and message written in flushed chunks of 1 to 7 octets.
    case chunked(DNSMessage)
    /// Send nothing.
    case drop
}

enum FakeTransport: Sendable {
    case udp, tcp
}

/// A scripted DNS server on 127.0.0.1 (UDP and TCP on one port) for transport edge cases dnsmasq
/// cannot be made to produce: wrong IDs, spoofed sources, garbage, FORMERR to EDNS.
final class FakeDNSServer: Sendable {
    typealias Script = @Sendable (DNSMessage, FakeTransport) -> [FakeReply]

    let port: Int
    let udp: any Channel
    let tcp: any Channel
    let spoofer: any Channel
    let counts = Mutex((udp: 0, tcp: 0))

    var udpQueries: Int { counts.withLock { $0.udp } }
    var tcpQueries: Int { counts.withLock { $0.tcp } }

    static func start(_ script: @escaping Script) async throws -> FakeDNSServer {
        let group = MultiThreadedEventLoopGroup.singleton
        let spoofer = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let box = ServerBox()
        for _ in 0..<20 {
            let udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(FakeUDPHandler(script: script, spoofer: spoofer, box: box))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            let port = udp.localAddress!.port!
            do {
                let tcp = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(FakeTCPHandler(script: script, box: box))
                        }
                    }
                    .bind(host: "127.0.0.1", port: port).get()
                let server = FakeDNSServer(port: port, udp: udp, tcp: tcp, spoofer: spoofer)
                box.server.withLock { $0 = server }
                return server
            } catch {
                try? await udp.close()
            }
        }
        throw DNSError.network("no free port for the fake server")
    }

    private init(port: Int, udp: any Channel, tcp: any Channel, spoofer: any Channel) {
        self.port = port
        self.udp = udp
        self.tcp = tcp
        self.spoofer = spoofer
    }

    var nameserver: Nameserver { Nameserver(address: ip("127.0.0.1"), port: port) }

    func stop() async {
        try? await udp.close()
        try? await tcp.close()
        try? await spoofer.close()
    }

    static func reply(_ message: DNSMessage, to query: DNSMessage) -> [UInt8] {
        var message = message
        message.header.id = query.header.id
        return try! DNSEncoder.encode(message)
    }
}

final class ServerBox: Sendable {
    let server = Mutex<FakeDNSServer?>(nil)

    func count(_ transport: FakeTransport) {
        server.withLock { server in
            server?.counts.withLock { if transport == .udp { $0.udp += 1 } else { $0.tcp += 1 } }
        }
    }
}

final class FakeUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let script: FakeDNSServer.Script
    let spoofer: any Channel
    let box: ServerBox

    init(script: @escaping FakeDNSServer.Script, spoofer: any Channel, box: ServerBox) {
        self.script = script
        self.spoofer = spoofer
        self.box = box
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let query = try? DNSParser.parse(Array(envelope.data.readableBytesView)) else { return }
        box.count(.udp)
        for reply in script(query, .udp) {
            let bytes: [UInt8]
            switch reply {
            case .message(let message): bytes = FakeDNSServer.reply(message, to: query)
            case .raw(let raw): bytes = raw
            case .spoofed(let message):
                let spoof = AddressedEnvelope(remoteAddress: envelope.remoteAddress,
                                              data: ByteBuffer(bytes: FakeDNSServer.reply(message, to: query)))
                spoofer.writeAndFlush(spoof, promise: nil)
                continue
            case .drop, .chunked: continue
            }
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress,
                                                                    data: ByteBuffer(bytes: bytes))), promise: nil)
        }
    }
}

final class FakeTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let script: FakeDNSServer.Script
    let box: ServerBox
    var received: [UInt8] = []

    init(script: @escaping FakeDNSServer.Script, box: ServerBox) {
        self.script = script
        self.box = box
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytesView
        while received.count >= 2 {
            let length = Int(received[0]) << 8 | Int(received[1])
            guard received.count >= 2 + length else { return }
            let bytes = Array(received[2..<(2 + length)])
            received.removeFirst(2 + length)
            guard let query = try? DNSParser.parse(bytes) else { context.close(promise: nil); return }
            box.count(.tcp)
            for reply in script(query, .tcp) {
                let out: [UInt8]
                switch reply {
                case .message(let message), .spoofed(let message): out = FakeDNSServer.reply(message, to: query)
                case .raw(let raw): out = raw
                case .drop: continue
                case .chunked(let message):
                    let bytes = FakeDNSServer.reply(message, to: query)
                    var framed = [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
                    var rng = SeededRNG(seed: UInt64(bytes.count))
                    while !framed.isEmpty {
                        let size = min(framed.count, Int.random(in: 1...7, using: &rng))
                        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: framed.prefix(size))), promise: nil)
                        framed.removeFirst(size)
                    }
                    continue
                }
                var buffer = ByteBuffer()
                buffer.writeInteger(UInt16(out.count))
                buffer.writeBytes(out)
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            }
        }
    }
}

/// A response to `query` with these answers.
func answer(_ query: DNSMessage, _ answers: [DNSResourceRecord], rcode: UInt8 = 0, truncated: Bool = false) -> DNSMessage {
    DNSMessage(header: DNSHeader(id: query.header.id, isResponse: true, isTruncated: truncated, recursionDesired: true,
                                 recursionAvailable: true, rcode: rcode),
               questions: query.questions, answers: answers)
}

/// A free 127.0.0.1 port: bound to 0 and released (UDP and TCP both checked free).
func freePort() throws -> Int {
    for _ in 0..<50 {
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(udp) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { continue }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(udp, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(tcp) }
        let tcpBound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(tcp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if tcpBound == 0 { return port }
    }
    throw DNSError.network("no free port")
}

/// A child process spawned with a clean signal mask. Foundation's Process passes on the
/// spawning thread's mask, and the test runner's threads block SIGTERM: dnsmasq started that way
/// ignores the SIGTERM that should stop it.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let status = Mutex<Int32?>(nil)

    init(_ path: String, _ arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard result == 0 else { throw DNSError.network("posix_spawn \(path): \(result)") }
        self.pid = pid
    }

    var isRunning: Bool {
        status.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = raw; return false }
            return true
        }
    }

    /// SIGTERM, up to two seconds to exit, then SIGKILL; always reaped.
    func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<200 {
            if !isRunning { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        var raw: Int32 = 0
        waitpid(pid, &raw, 0)
        status.withLock { $0 = raw }
    }
}

/// dnsmasq (Debian's dnsmasq-base) on a free 127.0.0.1 port, stopped by PID when the body ends.
enum Dnsmasq {
    static let path = "/usr/sbin/dnsmasq"

    static func run<T>(_ records: [String], _ body: (Nameserver) async throws -> T) async throws -> T {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("dnsmasq is not installed: apt-get install dnsmasq-base")
            throw DNSError.network("dnsmasq missing")
        }
        for _ in 0..<5 {
            let port = try freePort()
            let process = try ChildProcess(path, [
                "--keep-in-foreground", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--user=root", "--pid-file",
                "--local=/test/",
            ] + records)
            defer { process.stop() }
            let server = Nameserver(address: ip("127.0.0.1"), port: port)
            guard await ready(server, process: process) else { continue }
            return try await body(server)
        }
        throw DNSError.network("dnsmasq did not start")
    }

    /// Polls until dnsmasq answers (it binds within milliseconds, but not instantly).
    static func ready(_ server: Nameserver, process: ChildProcess) async -> Bool {
        let probe = DNSClient(configuration: ResolverConfiguration(nameservers: [server], timeout: .milliseconds(200),
                                                                   attempts: 1))
        for _ in 0..<50 {
            guard process.isRunning else { return false }
            if (try? await probe.query(DNSQuestion(name: name("probe.test"), type: .a))) != nil { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
