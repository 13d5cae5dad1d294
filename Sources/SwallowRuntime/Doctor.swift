import Foundation
import MailAuthentication
import MailDNS
import X509

/// `swallow doctor`: what an administrator should fix, each finding with its fix. Checks the
/// configuration (loaded by the caller), the certificate (readable, valid, names the host), the
/// data directory (owner, permissions), and DNS for each local domain (MX, and an address for
/// the host name) through the configured resolver.
public enum Doctor {
    public enum Level: String, Sendable { case ok, warning, problem }

    public struct Finding: Sendable, Equatable {
        public var level: Level
        public var what: String
        public var fix: String?

        public init(level: Level, what: String, fix: String? = nil) {
            self.level = level; self.what = what; self.fix = fix
        }
    }

    public static func check(_ config: SwallowConfiguration, domains: [String], now: Date = Date()) async -> [Finding] {
        var findings = [Finding(level: .ok, what: "configuration \(config.sourcePath) is valid")]
        findings += certificate(config, now: now)
        findings += dataDirectory(config)
        findings += await dns(config, domains: domains)
        return findings
    }

    static func certificate(_ config: SwallowConfiguration, now: Date) -> [Finding] {
        guard let certificate = config.certificate()?.parsed else {
            return [Finding(level: .problem, what: "certificate \(config.certificatePath) cannot be read",
                            fix: "set [tls] certificate/private_key, or delete both files and start: a self-signed pair is made")]
        }
        var findings: [Finding] = []
        let days = Int(certificate.notValidAfter.timeIntervalSince(now) / 86_400)
        if days < 0 {
            findings.append(Finding(level: .problem, what: "certificate expired \(-days) days ago", fix: "renew it (for example with certbot) and restart"))
        } else if days < 14 {
            findings.append(Finding(level: .warning, what: "certificate expires in \(days) days", fix: "renew it before then"))
        } else {
            findings.append(Finding(level: .ok, what: "certificate valid for \(days) more days"))
        }
        let names = (try? certificate.extensions.subjectAlternativeNames)?.flatMap { sans in
            sans.compactMap { name -> String? in if case .dnsName(let n) = name { n.lowercased() } else { nil } }
        } ?? []
        let host = config.server.hostname.lowercased()
        let matches = names.contains { $0 == host || ($0.hasPrefix("*.") && host.hasSuffix($0.dropFirst(1)) && host.split(separator: ".").count == $0.split(separator: ".").count) }
        if matches {
            findings.append(Finding(level: .ok, what: "certificate names \(host)"))
        } else {
            findings.append(Finding(level: .warning, what: "certificate does not name \(host) (it names \(names.isEmpty ? "nothing" : names.joined(separator: ", ")))",
                                    fix: "clients verifying the name will refuse it: get one for \(host)"))
        }
        if certificate.issuer == certificate.subject {
            findings.append(Finding(level: .warning, what: "certificate is self-signed",
                                    fix: "clients ask to trust it; a CA-signed one (Let's Encrypt) avoids that"))
        }
        return findings
    }

    static func dataDirectory(_ config: SwallowConfiguration) -> [Finding] {
        var findings: [Finding] = []
        let paths = [config.dataDirectory.path, config.sourcePath, config.privateKeyPath]
            + ["swallow.sqlite", "queue.sqlite"].map { config.dataFile($0) }
        var bad: [String] = []
        for path in paths {
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            if st.st_mode & S_IWOTH != 0 { bad.append("\(path) is writable by everyone") }
            if path == config.privateKeyPath || path.hasSuffix(".sqlite"), st.st_mode & S_IROTH != 0 {
                bad.append("\(path) is readable by everyone")
            }
        }
        if bad.isEmpty {
            findings.append(Finding(level: .ok, what: "data directory \(config.dataDirectory.path): permissions are tight"))
        } else {
            for b in bad { findings.append(Finding(level: .problem, what: b, fix: "chmod o-rwx on it")) }
        }
        return findings
    }

    static func dns(_ config: SwallowConfiguration, domains: [String]) async -> [Finding] {
        let resolver = DNSResolver(configuration: config.resolverConfiguration)
        let host = config.server.hostname.lowercased()
        var findings: [Finding] = []
        for domain in domains where domain != "localhost" {
            do {
                switch try await resolver.mx(domain) {
                case .hosts(let hosts):
                    let names = hosts.map { $0.host.lowercased() }
                    if names.contains(host) {
                        findings.append(Finding(level: .ok, what: "\(domain): MX \(names.joined(separator: ", "))"))
                    } else {
                        findings.append(Finding(level: .warning, what: "\(domain): MX is \(names.joined(separator: ", ")), not \(host)",
                                                fix: "publish \"\(domain). MX 10 \(host).\" if this server should receive its mail"))
                    }
                case .nullMX:
                    findings.append(Finding(level: .problem, what: "\(domain): null MX (accepts no mail)", fix: "publish \"\(domain). MX 10 \(host).\""))
                case .noMX:
                    findings.append(Finding(level: .warning, what: "\(domain): no MX record (mail goes to its address record)",
                                            fix: "publish \"\(domain). MX 10 \(host).\""))
                }
            } catch {
                findings.append(Finding(level: .problem, what: "\(domain): MX lookup failed: \(error)",
                                        fix: "publish \"\(domain). MX 10 \(host).\", or check [dns] nameservers"))
            }
            findings += await authenticationRecords(config, domain: domain, resolver: resolver)
        }
        if host != "localhost" {
            do {
                let addresses = try await resolver.addresses(host)
                findings.append(Finding(level: .ok, what: "\(host) has address \(addresses.map(\.description).joined(separator: ", "))"))
            } catch {
                findings.append(Finding(level: .problem, what: "\(host): no address: \(error)", fix: "publish an A (and AAAA) record for \(host)"))
            }
        }
        return findings
    }

    /// SPF, DKIM and DMARC: without them the large mailbox providers junk or refuse the domain's
    /// mail. What is missing or different comes with the record to publish (`swallow dns`).
    static func authenticationRecords(_ config: SwallowConfiguration, domain: String, resolver: DNSResolver) async -> [Finding] {
        let keys = DKIMKeyring(directory: config.dkimDirectory).signingKeys(for: domain)
        var findings: [Finding] = []
        if keys.isEmpty {
            findings.append(Finding(level: .warning, what: "\(domain): no DKIM key, its mail is sent unsigned",
                                    fix: "swallow dkim generate \(domain), then publish the record it prints"))
        }
        let records = PublishedRecords.records(for: domain, config: config, keys: keys).filter {
            switch $0.kind {
            case .spf, .dkim, .dmarc: true
            default: false
            }
        }
        let statuses = await PublishedRecords.check(records, host: config.server.hostname, resolver: resolver)
        for (record, status) in zip(records, statuses) {
            let what = record.name.hasPrefix("_dmarc.") ? "DMARC" : record.name.contains("._domainkey.") ? "DKIM" : "SPF"
            switch status {
            case .ok:
                findings.append(Finding(level: .ok, what: "\(domain): \(what) record \(record.name) published"))
            case .missing:
                findings.append(Finding(level: .warning, what: "\(domain): no \(what) record at \(record.name)",
                                        fix: "publish \(record.zoneLine)"))
            case .different(let published):
                findings.append(Finding(level: .warning, what: "\(domain): \(what) record at \(record.name) is \(published)",
                                        fix: "publish \(record.zoneLine)"))
            }
        }
        return findings
    }
}
