@testable import MailAuthentication
import Synchronization

/// An in-memory zone for SPF tests: names (case-insensitive, final dot ignored) map record types
/// ("TXT", "A", "AAAA", "MX", "PTR") to records or a timeout. A name absent from the zone is
/// NXDOMAIN, a type absent from a present name is NODATA. PTR records sit at the reverse name
/// (`4.3.2.1.in-addr.arpa`), as in a real zone. Every query is logged.
struct SPFFakeResolver: AuthenticationResolver {
    enum Answer: Sendable, Equatable {
        case records([String])
        case timeout
    }

    var zone: [String: [String: Answer]]
    let log = SPFQueryLog()

    init(zone: [String: [String: Answer]]) {
        self.zone = Dictionary(zone.map { (Self.key($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// One record a line, `name TYPE value` (the value runs to the end of the line, so TXT may
    /// hold spaces); `name TYPE !timeout` makes that type time out; `name NAME` only creates the name.
    init(_ lines: String) {
        var zone: [String: [String: Answer]] = [:]
        for line in lines.split(separator: "\n") where !line.allSatisfy(\.isWhitespace) {
            let parts = line.trimmingPrefix(while: \.isWhitespace).split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            let name = Self.key(String(parts[0]))
            if zone[name] == nil { zone[name] = [:] }
            guard parts.count >= 2, parts[1] != "NAME" else { continue }
            let type = String(parts[1])
            let value = parts.count > 2 ? String(parts[2]) : ""
            if value == "!timeout" {
                zone[name, default: [:]][type] = .timeout
            } else if case .records(let existing) = zone[name]?[type] {
                zone[name, default: [:]][type] = .records(existing + [value])
            } else {
                zone[name, default: [:]][type] = .records([value])
            }
        }
        self.zone = zone
    }

    static func key(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }

    private func answer(_ name: String, _ type: String) throws(AuthenticationDNSError) -> [String] {
        let key = Self.key(name)
        log.append("\(type) \(key)")
        guard let entry = zone[key] else { throw .nxdomain }
        switch entry[type] {
        case nil: throw .noData
        case .timeout: throw .temporary("timeout")
        case .records(let records):
            if records.isEmpty { throw .noData }
            return records
        }
    }

    func txt(_ name: String) async throws(AuthenticationDNSError) -> [String] {
        try answer(name, "TXT")
    }

    func addresses(_ name: String, ipv6: Bool) async throws(AuthenticationDNSError) -> [String] {
        try answer(name, ipv6 ? "AAAA" : "A")
    }

    func mx(_ name: String) async throws(AuthenticationDNSError) -> [String] {
        try answer(name, "MX").map(Self.key)
    }

    func ptr(_ address: String) async throws(AuthenticationDNSError) -> [String] {
        guard let parsed = SPFAddress(client: address) else { throw .nxdomain }
        return try answer(parsed.reverseName, "PTR").map(Self.key)
    }
}

/// The queries a fake resolver answered, in order.
final class SPFQueryLog: Sendable {
    private let entries = Mutex<[String]>([])

    func append(_ query: String) {
        entries.withLock { $0.append(query) }
    }

    var queries: [String] {
        entries.withLock { $0 }
    }
}
