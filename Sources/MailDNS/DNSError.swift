/// Every way a lookup can fail. Closed: callers switch over it exhaustively, and the queue uses
/// `isTemporary` to choose between deferring (retry later) and bouncing.
public enum DNSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// NXDOMAIN: the name does not exist (RFC 1035 §4.1.1 RCODE 3, RFC 8020). Permanent.
    case nxdomain
    /// NOERROR with no record of the asked type: NODATA (RFC 2308 §2.2). Permanent.
    case noData
    /// SERVFAIL, NOTIMP, or another RCODE that says "not now" from every nameserver. Temporary.
    case serverFailure
    /// REFUSED from every nameserver: usually a resolver not configured to serve us. Temporary,
    /// since an administrator can fix it without the remote domain changing.
    case refused
    /// No usable answer within the timeouts and attempts. Temporary.
    case timeout
    /// The response could not be parsed or made no sense (a CNAME loop, a chain longer than
    /// `DNSLimits.maxCNAMEChain`). Temporary: RFC 5321 §4.4 has DNS trouble deferred, not bounced.
    case malformed(String)
    /// The answer was cut (TC=1) and TCP was disabled or failed. Temporary.
    case truncatedWithoutTCP
    /// A socket error (no route, connection refused over TCP...). Temporary.
    case network(String)
    /// The name given to the resolver is not a domain name (empty label, over 255 octets,
    /// control characters). Permanent: asking again will not help.
    case invalidName(String)

    /// Worth retrying later: the queue defers the message (RFC 5321 §4.5.4.1).
    public var isTemporary: Bool {
        switch self {
        case .nxdomain, .noData, .invalidName: false
        case .serverFailure, .refused, .timeout, .malformed, .truncatedWithoutTCP, .network: true
        }
    }

    /// The domain (or host) does not and will not resolve: bounce at once.
    public var isPermanent: Bool { !isTemporary }

    /// The RFC 3463 enhanced status code a DSN or SMTP reply should carry for this failure:
    /// 5.1.2 "bad destination system address" for names that do not resolve, 4.4.3 "directory
    /// server failure" for everything temporary.
    public var enhancedStatusCode: String {
        isTemporary ? "4.4.3" : "5.1.2"
    }

    public var description: String {
        switch self {
        case .nxdomain: "domain does not exist (NXDOMAIN)"
        case .noData: "no records of the requested type (NODATA)"
        case .serverFailure: "nameserver failure (SERVFAIL)"
        case .refused: "nameserver refused the query (REFUSED)"
        case .timeout: "DNS query timed out"
        case .malformed(let reason): "malformed DNS response: \(reason)"
        case .truncatedWithoutTCP: "DNS response truncated and TCP fallback unavailable"
        case .network(let reason): "DNS network error: \(reason)"
        case .invalidName(let reason): "invalid domain name: \(reason)"
        }
    }
}
