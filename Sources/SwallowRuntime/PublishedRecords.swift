import Crypto
import Foundation
import MailAuthentication
import MailDNS

/// The DNS records a domain served by this configuration should publish (`swallow dns`), and
/// the comparison with what is published (`swallow dns --check`).
public struct PublishedRecord: Sendable {
    enum Kind: Sendable {
        case mx, spf, dkim(selector: String, publicKey: String), dmarc, mtaSTS, tlsRPT
        case srv(port: Int)
    }

    /// Fully qualified, without the final dot.
    public let name: String
    public let type: String
    /// The RDATA as a zone file writes it.
    public let data: String
    let kind: Kind

    public var zoneLine: String { "\(name).\t3600\tIN\t\(type)\t\(data)" }
}

public enum PublishedRecords {
    /// RFC 6186 §3.1 service names, by listener.
    static let services: [(listener: String, service: String)] = [
        ("submission", "_submission._tcp"), ("submissions", "_submissions._tcp"), ("imap", "_imap._tcp"),
        ("imaps", "_imaps._tcp"), ("pop3", "_pop3._tcp"), ("pop3s", "_pop3s._tcp"),
    ]

    public static func records(for domain: String, config: SwallowConfiguration, keys: [DKIMKey]) -> [PublishedRecord] {
        let domain = domain.lowercased()
        let host = config.server.hostname.lowercased()
        let report = "mailto:postmaster@\(domain)"
        var records = [
            PublishedRecord(name: domain, type: "MX", data: "10 \(host).", kind: .mx),
            // RFC 7208 §5.4: the domain's MX hosts may send its mail; nobody else.
            PublishedRecord(name: domain, type: "TXT", data: "\"v=spf1 mx -all\"", kind: .spf),
        ]
        for key in keys {
            records.append(PublishedRecord(name: "\(key.selector)._domainkey.\(domain)", type: "TXT",
                                           data: DKIMKey.quotedStrings(key.recordValue),
                                           kind: .dkim(selector: key.selector, publicKey: key.publicKeyBase64)))
        }
        records += [
            // RFC 7489 §6.3: aggregate reports to the postmaster.
            PublishedRecord(name: "_dmarc.\(domain)", type: "TXT", data: "\"v=DMARC1; p=quarantine; rua=\(report)\"", kind: .dmarc),
            // RFC 8461 §3.1: the id changes whenever the policy does.
            PublishedRecord(name: "_mta-sts.\(domain)", type: "TXT", data: "\"v=STSv1; id=\(policyID(host: host))\"", kind: .mtaSTS),
            // RFC 8460 §3.
            PublishedRecord(name: "_smtp._tls.\(domain)", type: "TXT", data: "\"v=TLSRPTv1; rua=\(report)\"", kind: .tlsRPT),
        ]
        for (listener, service) in services {
            guard let address = config.listen.all.first(where: { $0.0 == listener })?.1.first, address.port != 0 else { continue }
            // RFC 6186 §3: priority 0, weight 1.
            records.append(PublishedRecord(name: "\(service).\(domain)", type: "SRV", data: "0 1 \(address.port) \(host).",
                                           kind: .srv(port: address.port)))
        }
        return records
    }

    /// RFC 8461 §3.2: the policy served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt.
    /// "testing" until the administrator has seen TLS reports, as RFC 8461 §5 advises.
    public static func policy(host: String) -> String {
        "version: STSv1\nmode: testing\nmx: \(host.lowercased())\nmax_age: 86400\n"
    }

    static func policyID(host: String) -> String {
        let digest = SHA256.hash(data: Data(policy(host: host).utf8))
        return String(digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % 100_000_000_000_000)
    }

    public enum Status: Sendable, Equatable {
        case ok
        case missing
        case different(published: String)
    }

    /// Compares each record with what `resolver` finds. A lookup failure other than "no such
    /// record" is reported as different, with the error, so it is never taken for ok.
    public static func check(_ records: [PublishedRecord], host: String, resolver: DNSResolver) async -> [Status] {
        var statuses: [Status] = []
        for record in records {
            statuses.append(await check(record, host: host.lowercased(), resolver: resolver))
        }
        return statuses
    }

    static func check(_ record: PublishedRecord, host: String, resolver: DNSResolver) async -> Status {
        do {
            switch record.kind {
            case .mx:
                switch try await resolver.mx(record.name) {
                case .hosts(let hosts):
                    return hosts.contains { $0.host == host } ? .ok : .different(published: hosts.map(\.description).joined(separator: ", "))
                case .nullMX: return .different(published: "a null MX (RFC 7505)")
                case .noMX: return .missing
                }
            case .srv(let port):
                let found = try await resolver.srv(record.name)
                if found.contains(where: { $0.target == host && Int($0.port) == port }) { return .ok }
                return found.isEmpty ? .missing : .different(published: found.map { "\($0.priority) \($0.weight) \($0.port) \($0.target)." }.joined(separator: ", "))
            case .spf, .dkim, .dmarc, .mtaSTS, .tlsRPT:
                let texts = try await resolver.txt(record.name).map(\.text)
                return compare(record, texts)
            }
        } catch DNSError.nxdomain, DNSError.noData {
            return .missing
        } catch {
            return .different(published: "lookup failed: \(error)")
        }
    }

    static func compare(_ record: PublishedRecord, _ texts: [String]) -> Status {
        let tag: String
        switch record.kind {
        case .spf:
            let spf = texts.filter { $0.lowercased().hasPrefix("v=spf1") }
            // RFC 7208 §4.5: two SPF records are a permanent error, whatever they say.
            if spf.count == 1, spf[0] == "v=spf1 mx -all" { return .ok }
            return spf.isEmpty ? .missing : .different(published: spf.joined(separator: " | "))
        case .dkim(_, let publicKey):
            let keys = texts.compactMap { text in
                text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                    .first { $0.hasPrefix("p=") }.map { String($0.dropFirst(2)).replacingOccurrences(of: " ", with: "") }
            }
            if keys.contains(publicKey) { return .ok }
            return keys.isEmpty ? .missing : .different(published: texts.joined(separator: " | "))
        case .dmarc: tag = "v=DMARC1"
        case .mtaSTS: tag = "v=STSv1"
        case .tlsRPT: tag = "v=TLSRPTv1"
        case .mx, .srv: return .missing
        }
        let tagged = texts.filter { $0.replacingOccurrences(of: " ", with: "").lowercased().hasPrefix(tag.lowercased()) }
        // RFC 7489 §6.6.3, RFC 8461 §3.1, RFC 8460 §3: with more than one record, none applies.
        switch tagged.count {
        case 0: return .missing
        case 1: return .ok
        default: return .different(published: tagged.joined(separator: " | ") + " (more than one: receivers use none)")
        }
    }
}
