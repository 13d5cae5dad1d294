import Foundation
import Logging
import MailAuthentication
import MailDNS

extension Runtime {
    /// SPF, DKIM and DMARC for mail from elsewhere (`[authentication]`), through the resolver of
    /// `[dns]`; nil when `verify = false`. Without the Public Suffix List, DMARC takes each
    /// domain's last two labels as its organizational domain, and says so in the log.
    func inboundAuthentication() -> InboundAuthentication? {
        let config = configuration
        guard config.authentication.verify else { return nil }
        let suffixes: PublicSuffixList
        do {
            suffixes = try PublicSuffixList(path: config.authentication.publicSuffixList)
        } catch {
            logger.warning("no Public Suffix List: DMARC alignment uses the last two labels of each domain",
                           metadata: ["path": "\(config.authentication.publicSuffixList)", "fix": "apt-get install publicsuffix"])
            suffixes = PublicSuffixList(text: "")
        }
        let resolver = DNSAuthenticationResolver(resolver: DNSResolver(configuration: config.resolverConfiguration, logger: logger))
        var inbound = InboundAuthentication(resolver: resolver, suffixes: suffixes, authservID: config.server.hostname)
        inbound.enforcement = (config.authentication.dmarcReject, config.authentication.dmarcQuarantine)
        return inbound
    }
}

/// MailDNS's resolver as the authentication checks see it.
struct DNSAuthenticationResolver: AuthenticationResolver {
    let resolver: DNSResolver

    static func map(_ error: DNSError) -> AuthenticationDNSError {
        switch error {
        case .nxdomain: .nxdomain
        case .noData: .noData
        default: .temporary("\(error)")
        }
    }

    func txt(_ name: String) async throws(AuthenticationDNSError) -> [String] {
        do { return try await resolver.txt(name).map(\.text) } catch { throw Self.map(error) }
    }

    func addresses(_ name: String, ipv6: Bool) async throws(AuthenticationDNSError) -> [String] {
        do {
            let answer = try await resolver.lookup(try DNSName(name), ipv6 ? .aaaa : .a)
            return answer.records.compactMap { record in
                switch record.data {
                case .a(let address), .aaaa(let address): address.description
                default: nil
                }
            }
        } catch let error as DNSError {
            throw Self.map(error)
        } catch {
            throw .noData  // not a domain name: nothing there
        }
    }

    func mx(_ name: String) async throws(AuthenticationDNSError) -> [String] {
        do {
            switch try await resolver.mx(name) {
            case .hosts(let hosts): return hosts.map(\.host)
            case .nullMX: return []
            case .noMX: throw AuthenticationDNSError.noData
            }
        } catch let error as AuthenticationDNSError {
            throw error
        } catch let error as DNSError {
            throw Self.map(error)
        } catch {
            throw .temporary("\(error)")
        }
    }

    func ptr(_ address: String) async throws(AuthenticationDNSError) -> [String] {
        guard let ip = InternetAddress(address) else { throw .noData }
        do { return try await resolver.reverse(ip) } catch { throw Self.map(error) }
    }
}
