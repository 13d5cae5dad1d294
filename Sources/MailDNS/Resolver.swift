import Logging
import Metrics
import NIOCore
import NIOPosix

/// One mail exchanger of a domain (RFC 5321 §5.1).
public struct MXHost: Sendable, Hashable, CustomStringConvertible {
    /// Lower is tried first.
    public var preference: UInt16
    /// The exchange's name, lowercased, without the trailing dot.
    public var host: String

    public init(preference: UInt16, host: String) {
        self.preference = preference
        self.host = host
    }

    public var description: String { "\(preference) \(host)" }
}

/// Where mail for a domain goes (RFC 5321 §5.1, RFC 7505).
public enum MXResult: Sendable, Hashable {
    /// The domain's MX hosts, sorted by preference (stable: equal preferences keep the server's
    /// order; RFC 5321 §5.1 leaves it to the client to shuffle those, which the delivery agent
    /// does). Never empty.
    case hosts([MXHost])
    /// RFC 7505 null MX: the domain accepts no mail. Bounce at once with 556 5.1.10 (§4.2).
    case nullMX
    /// No MX record, but the domain itself has an address: RFC 5321 §5.1 implicit MX with
    /// preference 0 pointing at the domain. `implicitHosts` is `[domain]`, lowercased.
    case noMX(implicitHosts: [String])

    /// The RFC 7505 §4.2 enhanced status code for a null MX bounce.
    public static let nullMXEnhancedStatusCode = "5.1.10"
}

/// A TXT record: its character-strings (RFC 1035 §3.3.14), and their concatenation, which is
/// how SPF (RFC 7208 §3.3), DKIM (RFC 6376 §3.6.2.2) and MTA-STS read them.
public struct TXTRecord: Sendable, Hashable {
    public var strings: [[UInt8]]

    public init(strings: [[UInt8]]) {
        self.strings = strings
    }

    /// The strings joined without separators, decoded as UTF-8 (invalid bytes become U+FFFD).
    public var text: String { String(decoding: strings.joined(), as: UTF8.self) }
}

/// TLSA records for a DANE lookup (RFC 7672 §2.2) and whether the recursive resolver vouched
/// for them with DNSSEC (the AD bit, RFC 6840 §5.7). DANE must ignore unauthenticated TLSA.
public struct TLSAResult: Sendable, Hashable {
    public var records: [TLSARecord]
    public var authenticated: Bool

    public init(records: [TLSARecord], authenticated: Bool) {
        self.records = records
        self.authenticated = authenticated
    }
}

/// The outcome of a successful lookup: the RRset of the asked type at the end of the CNAME chain.
public struct DNSAnswer: Sendable, Hashable {
    /// What was asked.
    public var question: DNSQuestion
    /// Where the CNAME chain ended (the question's name when there was none).
    public var canonicalName: DNSName
    /// The records of `question.type` owned by `canonicalName`; never empty.
    public var records: [DNSResourceRecord]
    /// The CNAME records followed, in order.
    public var cnameChain: [DNSResourceRecord]
    /// Every response on the way had AD set.
    public var authenticated: Bool

    public init(question: DNSQuestion, canonicalName: DNSName, records: [DNSResourceRecord],
                cnameChain: [DNSResourceRecord] = [], authenticated: Bool = false) {
        self.question = question
        self.canonicalName = canonicalName
        self.records = records
        self.cnameChain = cnameChain
        self.authenticated = authenticated
    }

    /// How long the whole answer may be cached: the smallest TTL in it. TTLs with the top bit set
    /// count as 0 (RFC 2181 §8).
    public var ttl: UInt32 {
        (records + cnameChain).map { $0.ttl > UInt32(Int32.max) ? 0 : $0.ttl }.min() ?? 0
    }
}

/// What the mail system asks of DNS. `DNSResolver` is the real one; tests of higher layers use
/// fakes.
public protocol Resolver: Sendable {
    /// Where to deliver mail for `domain` (RFC 5321 §5.1). Throws `.nxdomain` when the domain does
    /// not exist and `.noData` when it has neither MX nor address records (both permanent).
    func mx(_ domain: String) async throws(DNSError) -> MXResult
    /// A and AAAA records of `host` after CNAMEs, in the configured `AddressOrder`; an IP literal
    /// is returned as is. Never empty: no address at all is `.noData` or `.nxdomain`.
    func addresses(_ host: String) async throws(DNSError) -> [InternetAddress]
    /// TXT records of `name` (SPF, DKIM keys, MTA-STS and TLS-RPT policies).
    func txt(_ name: String) async throws(DNSError) -> [TXTRecord]
    /// TLSA records of `name`, e.g. `_25._tcp.mx.example.com` (RFC 7672 §2.2).
    func tlsa(_ name: String) async throws(DNSError) -> TLSAResult
}

/// The stub resolver: asks the configured recursive nameservers through a `DNSTransport`,
/// follows CNAME chains, and caches positive and negative answers.
public final class DNSResolver: Resolver {
    public let configuration: ResolverConfiguration
    public let cache: DNSCache
    let transport: any DNSTransport
    let logger: Logger

    /// A resolver over UDP/TCP with `configuration` (by default, what /etc/resolv.conf says).
    public convenience init(configuration: ResolverConfiguration = .fromResolvConf(),
                            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                            cacheClock: DNSClock = .continuous,
                            logger: Logger = Logger(label: "swallow.dns")) {
        self.init(configuration: configuration,
                  transport: DNSClient(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger),
                  cacheClock: cacheClock, logger: logger)
    }

    /// A resolver over any transport (tests use an in-memory zone).
    public init(configuration: ResolverConfiguration, transport: any DNSTransport, cacheClock: DNSClock = .continuous,
                logger: Logger = Logger(label: "swallow.dns")) {
        self.configuration = configuration
        self.transport = transport
        self.cache = DNSCache(capacity: configuration.cacheCapacity, maxTTL: configuration.maxCacheTTL,
                              maxNegativeTTL: configuration.maxNegativeCacheTTL, clock: cacheClock)
        self.logger = logger
    }

    // MARK: Resolver

    public func mx(_ domain: String) async throws(DNSError) -> MXResult {
        let name = try Self.name(domain)
        let answer: DNSAnswer
        do {
            answer = try await lookup(name, .mx)
        } catch .noData {
            // RFC 5321 §5.1: no MX, so the domain itself is the implicit MX — if it has an address.
            _ = try await addresses(domain)
            return .noMX(implicitHosts: [name.lowercased.description])
        }
        var exchangers: [(preference: UInt16, exchange: DNSName)] = []
        for record in answer.records {
            if case .mx(let preference, let exchange) = record.data { exchangers.append((preference, exchange)) }
        }
        // RFC 7505 §3: a null MX is the domain's only MX. A "." next to real hosts is unusable, so
        // it is dropped and the real hosts are used; only "." records mean "no mail".
        let real = exchangers.filter { !$0.exchange.isRoot }
        guard !real.isEmpty else { return .nullMX }
        var hosts: [MXHost] = []
        for exchanger in real {
            let host = MXHost(preference: exchanger.preference, host: exchanger.exchange.lowercased.description)
            if !hosts.contains(host) { hosts.append(host) }
        }
        // Swift's sort is stable (documented since Swift 5), so equal preferences keep their order.
        hosts.sort { $0.preference < $1.preference }
        return .hosts(hosts)
    }

    public func addresses(_ host: String) async throws(DNSError) -> [InternetAddress] {
        if let literal = InternetAddress(host) { return [literal] }
        let name = try Self.name(host)
        async let v4Outcome = outcome(name, .a)
        async let v6Outcome = outcome(name, .aaaa)
        let (v4Result, v6Result) = await (v4Outcome, v6Outcome)
        let v4: [InternetAddress] = (try? v4Result.get())?.records.compactMap { if case .a(let a) = $0.data { a } else { nil } } ?? []
        let v6: [InternetAddress] = (try? v6Result.get())?.records.compactMap { if case .aaaa(let a) = $0.data { a } else { nil } } ?? []
        if v4.isEmpty && v6.isEmpty {
            // No address: a temporary failure of either family wins (the address may exist),
            // then NXDOMAIN, then NODATA.
            let errors = [v4Result, v6Result].compactMap { if case .failure(let e) = $0 { e } else { nil } }
            if let temporary = errors.first(where: \.isTemporary) { throw temporary }
            if errors.contains(.nxdomain) { throw .nxdomain }
            throw errors.first ?? .noData
        }
        for case .failure(let error) in [v4Result, v6Result] where error.isTemporary {
            logger.debug("DNS: one address family failed", metadata: ["dns.host": "\(name)", "dns.error": "\(error)"])
        }
        switch configuration.addressOrder {
        case .ipv4First:
            return v4 + v6
        case .ipv6First:
            return v6 + v4
        case .interleaved:
            var out: [InternetAddress] = []
            for index in 0..<max(v4.count, v6.count) {
                if index < v6.count { out.append(v6[index]) }
                if index < v4.count { out.append(v4[index]) }
            }
            return out
        }
    }

    public func txt(_ name: String) async throws(DNSError) -> [TXTRecord] {
        let answer = try await lookup(try Self.name(name), .txt)
        return answer.records.compactMap { if case .txt(let strings) = $0.data { TXTRecord(strings: strings) } else { nil } }
    }

    /// RFC 2782 SRV records (client autoconfiguration, RFC 6186), as (priority, weight, port,
    /// target). The target is read uncompressed, as RFC 2782 requires; a record that is not is skipped.
    public func srv(_ name: String) async throws(DNSError) -> [(priority: UInt16, weight: UInt16, port: UInt16, target: String)] {
        let answer = try await lookup(try Self.name(name), DNSRecordType(33))
        return answer.records.compactMap { record in
            guard case .unknown(_, let data) = record.data, data.count >= 7 else { return nil }
            func u16(_ i: Int) -> UInt16 { UInt16(data[i]) << 8 | UInt16(data[i + 1]) }
            var labels: [String] = []
            var i = 6
            while i < data.count, data[i] != 0 {
                let length = Int(data[i])
                guard length < 64, i + 1 + length <= data.count else { return nil }
                labels.append(String(decoding: data[(i + 1)..<(i + 1 + length)], as: UTF8.self))
                i += 1 + length
            }
            guard i < data.count else { return nil }
            return (u16(0), u16(2), u16(4), labels.joined(separator: ".").lowercased())
        }
    }

    public func tlsa(_ name: String) async throws(DNSError) -> TLSAResult {
        let answer = try await lookup(try Self.name(name), .tlsa)
        let records = answer.records.compactMap { if case .tlsa(let tlsa) = $0.data { tlsa } else { nil } }
        return TLSAResult(records: records, authenticated: answer.authenticated)
    }

    /// PTR names of an address (`in-addr.arpa` / `ip6.arpa`, RFC 1035 §3.5, RFC 3596 §2.5), for
    /// logging the client's name in `Received:` headers.
    public func reverse(_ address: InternetAddress) async throws(DNSError) -> [String] {
        let labels: [String]
        if address.isIPv6 {
            labels = address.bytes.reversed().flatMap { [String($0 & 0x0F, radix: 16), String($0 >> 4, radix: 16)] }
                + ["ip6", "arpa"]
        } else {
            labels = address.bytes.reversed().map(String.init) + ["in-addr", "arpa"]
        }
        let answer = try await lookup(try Self.name(labels.joined(separator: ".")), .ptr)
        return answer.records.compactMap { if case .ptr(let name) = $0.data { name.lowercased.description } else { nil } }
    }

    // MARK: Lookups

    /// The RRset of `type` for `name` after CNAMEs, from the cache or the nameservers.
    ///
    /// Records are taken only along the chain that starts at `name` (RFC 1034 §3.6.2); anything
    /// else in the answer, and the whole additional section, is ignored — it is unasked-for data
    /// an attacker could have injected (RFC 5452 §6). A chain that ends at a CNAME whose target
    /// the server did not answer is continued with a new query, up to `maxCNAMEChain` CNAMEs in
    /// all; a loop or a longer chain is `.malformed`.
    public func lookup(_ name: DNSName, _ type: DNSRecordType) async throws(DNSError) -> DNSAnswer {
        if let cached = cache.lookup(name, type) {
            Counter(label: "swallow_dns_lookups_total", dimensions: [("type", "\(type)"), ("source", "cache")]).increment()
            return try cached.get()
        }
        Counter(label: "swallow_dns_lookups_total", dimensions: [("type", "\(type)"), ("source", "network")]).increment()
        var current = name
        var chain: [DNSResourceRecord] = []
        var seen: Set<DNSName> = [name]
        var authenticated = true
        while true {
            let response = try await transport.query(DNSQuestion(name: current, type: type))
            authenticated = authenticated && response.header.authenticData
            var target = current
            var records: [DNSResourceRecord] = []
            walk: while true {
                records = response.answers.filter { $0.name == target && $0.type == type }
                if !records.isEmpty || type == .cname { break walk }
                guard let cname = response.answers.first(where: { $0.name == target && $0.type == .cname }),
                      case .cname(let next) = cname.data else { break walk }
                chain.append(cname)
                guard chain.count <= configuration.maxCNAMEChain else {
                    throw .malformed("CNAME chain from \(name) longer than \(configuration.maxCNAMEChain)")
                }
                guard seen.insert(next).inserted else { throw .malformed("CNAME loop at \(next)") }
                target = next
            }
            if !records.isEmpty {
                let answer = DNSAnswer(question: DNSQuestion(name: name, type: type), canonicalName: target,
                                       records: records, cnameChain: chain, authenticated: authenticated)
                cache.store(answer)
                return answer
            }
            let soa = response.authorities.first { $0.type == .soa }
            if response.responseCode == .noError, target != current, soa == nil {
                // The server stopped at a CNAME it does not serve: ask for the target ourselves.
                current = target
                continue
            }
            let error: DNSError = response.responseCode == .nameError ? .nxdomain : .noData
            if case .soa(let record)? = soa?.data {
                // RFC 2308 §5: the negative TTL is min(SOA TTL, SOA MINIMUM), and no CNAME on the way
                // may outlive it.
                let ttls = [soa!.ttl, record.minimum] + chain.map(\.ttl)
                cache.storeNegative(name, type, error: error,
                                    ttl: ttls.map { $0 > UInt32(Int32.max) ? 0 : $0 }.min() ?? 0)
            }
            throw error
        }
    }

    /// Outcomes rather than throws, so both address families can run concurrently.
    private func outcome(_ name: DNSName, _ type: DNSRecordType) async -> Result<DNSAnswer, DNSError> {
        do {
            return .success(try await lookup(name, type))
        } catch {
            return .failure(error)
        }
    }

    static func name(_ text: String) throws(DNSError) -> DNSName {
        do {
            let name = try DNSName(text)
            guard !name.isRoot else { throw DNSNameError.emptyLabel }
            return name
        } catch {
            throw .invalidName("\(error): \(text.prefix(80).debugDescription)")
        }
    }
}

extension DNSResolver {
    /// DESIGN.md §5.8: each component's settings as a nested `Configuration`.
    public typealias Configuration = ResolverConfiguration
}
