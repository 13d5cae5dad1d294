import Delivery
import MailDNS

/// The queue's view of DNS: MX hosts in preference order (equal preferences shuffled, RFC 5321
/// §5.1), each resolved to its addresses; null MX and the implicit MX rule come from MailDNS.
struct DNSMailHosts: MailHostResolver {
    let resolver: any Resolver

    func mailHosts(for domain: String) async -> MailHostLookup {
        let mx: MXResult
        do {
            mx = try await resolver.mx(domain)
        } catch {
            return error.isTemporary ? .temporary("\(error)") : .permanent("\(error)")
        }
        let names: [(name: String, preference: Int)]
        switch mx {
        case .nullMX:
            return .nullMX
        case .noMX(let implicit):
            names = implicit.map { ($0, 0) }
        case .hosts(let hosts):
            // Shuffle within each preference so load spreads across equal hosts.
            var ordered: [(String, Int)] = []
            for preference in Set(hosts.map(\.preference)).sorted() {
                ordered += hosts.filter { $0.preference == preference }.map { ($0.host, Int(preference)) }.shuffled()
            }
            names = ordered
        }
        var result: [MailHost] = []
        var lastError: DNSError?
        for (name, preference) in names {
            do {
                let addresses = try await resolver.addresses(name)
                result.append(MailHost(name: name, preference: preference, addresses: addresses.map(\.description)))
            } catch {
                lastError = error
            }
        }
        if result.isEmpty, let lastError {
            return lastError.isTemporary ? .temporary("\(lastError)") : .permanent("no address for the mail hosts of \(domain): \(lastError)")
        }
        return .hosts(result)
    }
}
