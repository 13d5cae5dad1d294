#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A recursive nameserver to ask: an IP literal and a port.
public struct Nameserver: Sendable, Hashable, CustomStringConvertible {
    public var address: InternetAddress
    public var port: Int

    public init(address: InternetAddress, port: Int = 53) {
        self.address = address
        self.port = port
    }

    /// `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port` (the `[dns] nameservers` syntax); a bare IPv6
    /// literal such as `::1` is an address without a port. nil for anything else — nameservers
    /// are addresses, never names (resolving a resolver's name would need a resolver).
    public init?(_ text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                  let address = InternetAddress(String(text[text.index(after: text.startIndex)..<close])),
                  address.isIPv6 else { return nil }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                self.init(address: address)
                return
            }
            guard rest.first == ":", let port = Nameserver.port(rest.dropFirst()) else { return nil }
            self.init(address: address, port: port)
        } else if let address = InternetAddress(text) {
            self.init(address: address)
        } else {
            guard let colon = text.lastIndex(of: ":"), let address = InternetAddress(String(text[..<colon])),
                  !address.isIPv6, let port = Nameserver.port(text[text.index(after: colon)...]) else { return nil }
            self.init(address: address, port: port)
        }
    }

    private static func port(_ text: Substring) -> Int? {
        guard (1...5).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let port = Int(text), (1...65535).contains(port) else { return nil }
        return port
    }

    public var description: String { address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)" }
}

/// How the resolver orders the addresses of one host.
public enum AddressOrder: Sendable, Hashable {
    /// All IPv4 addresses, then all IPv6 (the default: IPv4 is what most mail hosts reach reliably,
    /// like Postfix's `smtp_address_preference = ipv4`).
    case ipv4First
    case ipv6First
    /// Alternating families, starting with IPv6 (RFC 8305 §4, "Happy Eyeballs" ordering).
    case interleaved
}

/// Settings for `DNSResolver` (DESIGN.md §5.8: documented defaults).
public struct ResolverConfiguration: Sendable, Hashable {
    /// Asked in order, each for `attempts` rounds. Default: 127.0.0.1:53.
    public var nameservers: [Nameserver]
    /// How long to wait for one answer from one nameserver (resolv.conf's `timeout`, default 2 s).
    public var timeout: Duration
    /// Rounds over the whole nameserver list (resolv.conf's `attempts`, default 2).
    public var attempts: Int
    /// The EDNS UDP payload size to advertise (RFC 6891); nil sends no OPT record and so caps UDP
    /// answers at 512 octets (RFC 1035 §4.2.1). Default 1232.
    public var ednsPayloadSize: UInt16?
    /// Ask again over TCP when a UDP answer comes back with TC=1 (RFC 7766 §5). Default true.
    public var tcpFallback: Bool
    /// Send every query over TCP (RFC 7766 allows it; for tests and UDP-hostile networks).
    public var alwaysTCP: Bool
    /// CNAMEs followed for one lookup (default `DNSLimits.maxCNAMEChain`, 8).
    public var maxCNAMEChain: Int
    /// Cached answers, positive and negative (default 10,000; 0 disables the cache).
    public var cacheCapacity: Int
    /// The longest a positive answer is cached whatever its TTL (default 1 day, like Unbound).
    public var maxCacheTTL: UInt32
    /// The longest a negative answer is cached (RFC 2308 §5 suggests 1–3 hours; default 1 hour).
    public var maxNegativeCacheTTL: UInt32
    /// Order of the addresses `addresses(_:)` returns (default `.ipv4First`).
    public var addressOrder: AddressOrder

    public init(nameservers: [Nameserver] = [], timeout: Duration = .seconds(2), attempts: Int = 2,
                ednsPayloadSize: UInt16? = DNSLimits.defaultEDNSPayloadSize, tcpFallback: Bool = true,
                alwaysTCP: Bool = false, maxCNAMEChain: Int = DNSLimits.maxCNAMEChain, cacheCapacity: Int = 10_000,
                maxCacheTTL: UInt32 = 86_400, maxNegativeCacheTTL: UInt32 = 3_600, addressOrder: AddressOrder = .ipv4First) {
        self.nameservers = nameservers.isEmpty ? [ResolverConfiguration.defaultNameserver] : nameservers
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.ednsPayloadSize = ednsPayloadSize
        self.tcpFallback = tcpFallback
        self.alwaysTCP = alwaysTCP
        self.maxCNAMEChain = max(0, maxCNAMEChain)
        self.cacheCapacity = max(0, cacheCapacity)
        self.maxCacheTTL = maxCacheTTL
        self.maxNegativeCacheTTL = maxNegativeCacheTTL
        self.addressOrder = addressOrder
    }

    /// What glibc uses when resolv.conf names no nameserver (resolv.conf(5)).
    public static let defaultNameserver = Nameserver(address: InternetAddress("127.0.0.1")!, port: 53)

    /// Reads `nameserver` lines (IPv4 or IPv6, at most `maxNameservers` like glibc's MAXNS) and
    /// `options timeout:N attempts:N` from a resolv.conf. A missing or unreadable file, or one
    /// without nameservers, gives 127.0.0.1:53.
    public static func fromResolvConf(path: String = "/etc/resolv.conf") -> ResolverConfiguration {
        guard let text = readSmallFile(path) else { return ResolverConfiguration() }
        return fromResolvConf(contents: text)
    }

    /// glibc reads at most three nameservers (MAXNS); we allow a few more.
    public static let maxNameservers = 8

    /// The parsing half of `fromResolvConf(path:)`, for tests.
    public static func fromResolvConf(contents: String) -> ResolverConfiguration {
        var configuration = ResolverConfiguration()
        var servers: [Nameserver] = []
        for rawLine in contents.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            let words = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            switch keyword {
            case "nameserver":
                // glibc accepts `fe80::1%eth0`; the scope cannot be carried by an address alone, so
                // such lines are skipped rather than misread.
                if words.count >= 2, servers.count < maxNameservers, let address = InternetAddress(String(words[1])) {
                    servers.append(Nameserver(address: address))
                }
            case "options":
                for option in words.dropFirst() {
                    if option.hasPrefix("timeout:"), let n = Int(option.dropFirst(8)), (1...30).contains(n) {
                        configuration.timeout = .seconds(n)
                    } else if option.hasPrefix("attempts:"), let n = Int(option.dropFirst(9)), (1...5).contains(n) {
                        configuration.attempts = n
                    } else if option == "use-vc" || option == "usevc" {
                        configuration.alwaysTCP = true
                    }
                }
            default:
                continue
            }
        }
        if !servers.isEmpty { configuration.nameservers = servers }
        return configuration
    }

    /// Reads at most 64 KiB: a resolv.conf larger than that is not one.
    static func readSmallFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = fread(&buffer, 1, buffer.count, file)
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
