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

    /// Owners and modes in the data directory, each wrong one with the command that fixes it.
    ///
    /// Who must own what follows how the server runs:
    /// - `[server] user` set (started as root, README "Running as root"): the data directory and
    ///   the configuration stay root's, or `serve` refuses to start; the databases, a certificate
    ///   and key kept there and the DKIM keys are the service user's. `serve` hands them over at
    ///   each start; one that root made since (`sudo swallow dkim generate`) the running server
    ///   cannot read, so it is reported.
    /// - otherwise, the user running doctor, who is the one running `serve`. Root checking
    ///   without `[server] user` checks on behalf of the data directory's owner: that is the
    ///   systemd unit's `User=swallow`, whose files root must not be told to take.
    ///
    /// Nothing may be writable by its group or others; keys and databases not readable by others.
    static func dataDirectory(_ config: SwallowConfiguration, runningAs uid: uid_t = geteuid()) -> [Finding] {
        let directory = config.dataDirectory.path
        var st = stat()
        let directoryOwner = lstat(directory, &st) == 0 ? st.st_uid : uid
        let user = config.server.user
        let owners: (root: uid_t, files: uid_t)
        if !user.isEmpty {
            guard let entry = getpwnam(user) else {
                return [Finding(level: .problem, what: "server.user '\(user)' is not a user on this system",
                                fix: "useradd --system --home-dir \(shellQuoted(directory)) --shell /usr/sbin/nologin \(shellQuoted(user))")]
            }
            owners = (0, entry.pointee.pw_uid)
        } else {
            let owner = uid == 0 ? directoryOwner : uid
            owners = (owner, owner)
        }

        // (path, its owner (nil: not checked), whether others must not read it)
        var paths: [(String, uid_t?, Bool)] = [(directory, owners.root, false)]
        paths.append((config.sourcePath, user.isEmpty ? nil : 0, false))
        for file in [config.certificatePath, config.privateKeyPath] {
            let inside = (file as NSString).deletingLastPathComponent == directory
            paths.append((file, inside ? owners.files : nil, file == config.privateKeyPath))
        }
        for database in ["swallow.sqlite", "queue.sqlite", "admin.sqlite", "trace.sqlite"] {
            for file in [database, database + "-wal", database + "-shm"] {
                paths.append((config.dataFile(file), owners.files, true))
            }
        }
        let dkim = config.dkimDirectory
        paths.append((dkim, owners.files, false))
        for domain in ((try? FileManager.default.contentsOfDirectory(atPath: dkim)) ?? []).sorted() {
            let folder = dkim + "/" + domain
            guard lstat(folder, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { continue }
            paths.append((folder, owners.files, false))
            for key in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() where key.hasSuffix(".pem") {
                paths.append((folder + "/" + key, owners.files, true))
            }
        }

        var problems: [Finding] = []
        for (path, owner, secret) in paths {
            guard lstat(path, &st) == 0 else { continue }  // not made (yet)
            let quoted = shellQuoted(path)
            if let owner, st.st_uid != owner {
                problems.append(Finding(level: .problem, what: "\(path) belongs to \(userName(st.st_uid)), not \(userName(owner))",
                                        fix: "chown \(userName(owner)) \(quoted)"))
            }
            guard st.st_mode & S_IFMT != S_IFLNK else { continue }  // a link's own mode means nothing
            if st.st_mode & S_IWOTH != 0 {
                problems.append(Finding(level: .problem, what: "\(path) is writable by everyone", fix: "chmod go-w \(quoted)"))
            } else if st.st_mode & S_IWGRP != 0 {
                problems.append(Finding(level: .problem, what: "\(path) is writable by its group", fix: "chmod go-w \(quoted)"))
            }
            if secret, st.st_mode & S_IROTH != 0 {
                problems.append(Finding(level: .problem, what: "\(path) is readable by everyone", fix: "chmod o-rwx \(quoted)"))
            }
        }
        guard problems.isEmpty else { return problems }
        return [Finding(level: .ok, what: "data directory \(directory): owners and permissions are right"
                        + " (files belong to \(userName(owners.files)))")]
    }

    /// The user's name, or the number when it has none (chown takes either).
    static func userName(_ uid: uid_t) -> String {
        getpwuid(uid).map { String(cString: $0.pointee.pw_name) } ?? String(uid)
    }

    /// A path as one shell word, for a fix to copy and paste.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
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
