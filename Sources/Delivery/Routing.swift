/// Where mail for a remote domain goes next (DESIGN.md §3 `[transport]` and `[relay]`).
public struct Routing: Sendable {
    public struct Hop: Sendable, Equatable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public enum Route: Sendable, Equatable, CustomStringConvertible {
        /// A fixed next hop from `[transport]` (like Postfix transport_maps).
        case transport(Hop)
        /// Everything through `[relay] smarthost`.
        case smarthost(Hop)
        /// MX lookup (RFC 5321 §5.1).
        case mx(domain: String)

        public var description: String {
            switch self {
            case .transport(let hop): "transport \(hop.host):\(hop.port)"
            case .smarthost(let hop): "smarthost \(hop.host):\(hop.port)"
            case .mx(let domain): "MX of \(domain)"
            }
        }
    }

    public var transport: [String: Hop]
    public var smarthost: Hop?

    public init(transport: [String: Hop] = [:], smarthost: Hop? = nil) {
        self.transport = transport
        self.smarthost = smarthost
    }

    /// A transport entry for the domain (or a parent domain written `.example.net`) wins over
    /// the smarthost, which wins over MX.
    public func route(for domain: String) -> Route {
        let d = domain.lowercased()
        if let hop = transport[d] { return .transport(hop) }
        var labels = d.split(separator: ".")
        while labels.count > 1 {
            labels.removeFirst()
            if let hop = transport["." + labels.joined(separator: ".")] { return .transport(hop) }
        }
        if let smarthost { return .smarthost(smarthost) }
        return .mx(domain: d)
    }
}

/// Mail hosts for a domain, the part of DNS the queue needs (SwallowRuntime's DNSMailHosts
/// answers it from MailDNS).
public protocol MailHostResolver: Sendable {
    func mailHosts(for domain: String) async -> MailHostLookup
}

/// One mail host of a domain with its MX preference (0 for the implicit MX) and addresses.
public struct MailHost: Sendable, Equatable {
    public var name: String
    public var preference: Int
    public var addresses: [String]

    public init(name: String, preference: Int, addresses: [String]) {
        self.name = name
        self.preference = preference
        self.addresses = addresses
    }
}

public enum MailHostLookup: Sendable, Equatable {
    /// Hosts to try in order (preference order, equal preferences shuffled).
    case hosts([MailHost])
    /// RFC 7505 null MX: the domain accepts no mail.
    case nullMX
    /// Permanent failure (NXDOMAIN, no such host): bounce.
    case permanent(String)
    /// Temporary failure (timeout, SERVFAIL): retry later.
    case temporary(String)
}
