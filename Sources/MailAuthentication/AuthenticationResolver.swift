/// The DNS lookups SPF, DKIM and DMARC make, kept abstract so the checks stay pure and testable;
/// the server adapts its resolver (MailDNS) to it.
public protocol AuthenticationResolver: Sendable {
    /// TXT records at `name`, each the concatenation of its strings (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    func txt(_ name: String) async throws(AuthenticationDNSError) -> [String]
    /// A (`ipv6: false`) or AAAA records as text ("192.0.2.1", "2001:db8::1").
    func addresses(_ name: String, ipv6: Bool) async throws(AuthenticationDNSError) -> [String]
    /// MX exchanges, lowercased, without the final dot, in preference order.
    func mx(_ name: String) async throws(AuthenticationDNSError) -> [String]
    /// PTR names of an address, lowercased, without the final dot.
    func ptr(_ address: String) async throws(AuthenticationDNSError) -> [String]
}

public enum AuthenticationDNSError: Error, Sendable, Equatable {
    /// NXDOMAIN (RCODE 3).
    case nxdomain
    /// The name exists but has no record of that type.
    case noData
    /// SERVFAIL, timeout, or anything that may work later.
    case temporary(String)
}
