import ArgumentParser
import Foundation
import MailAuthentication
import MailDNS
import SwallowRuntime

#if canImport(Glibc)
import Glibc
#endif

/// `swallow dkim`: the keys outgoing mail of local domains is signed with (RFC 6376, RFC 8463).
struct DKIMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim", abstract: "DKIM signing keys of local domains.", subcommands: [Generate.self, List.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a signing key for a local domain and print the DNS record to publish.",
            discussion: """
                Mail from the domain is signed with the newest key of each algorithm as soon as it exists. \
                To rotate, generate a new selector, publish its record, and remove the old record once \
                mail signed with it has been delivered (a few days).
                """)
        @OptionGroup var options: ConfigOption
        @Argument var domain: String
        @Option(help: "The selector (default: rsaYYYYMM or edYYYYMM, this month).") var selector: String?
        @Option(help: "rsa (2048 bits) or ed25519.") var algorithm: String = "rsa"

        func run() async throws {
            try await reporting {
                let config = try options.load()
                // As root for a server that drops privileges, the key belongs to the service user
                // that owns the database, who must read it.
                var owner: (uid_t, gid_t)?
                var st = stat()
                if geteuid() == 0, stat(config.databasePath, &st) == 0, st.st_uid != 0 { owner = (st.st_uid, st.st_gid) }
                let key = try await options.administration()
                    .generateDKIMKey(domain: domain, selector: selector, algorithm: algorithm, owner: owner)
                await options.audit("dkim.generate", "\(key.selector)._domainkey.\(key.domain)")
                say(key.record)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every signing key: domain, selector, algorithm, created.")
        @OptionGroup var options: ConfigOption
        func run() async throws {
            try await reporting {
                let keys = DKIMKeyring(directory: try options.load().dkimDirectory).allKeys()
                for key in keys {
                    say("\(key.domain)\t\(key.selector)\t\(key.algorithm.rawValue)\tcreated \(key.created.formatted(.iso8601))")
                }
                if keys.isEmpty { say("no DKIM keys (swallow dkim generate DOMAIN)") }
            }
        }
    }
}

/// `swallow dns DOMAIN [--check]`.
struct DNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns", abstract: "Every DNS record to publish for a domain; --check compares them with what is published.")
    @OptionGroup var options: ConfigOption
    @Argument var domain: String
    @Flag(help: "Resolve each record (through [dns] nameservers) and say ok, missing or different.") var check = false

    func run() async throws {
        try await reporting {
            let config = try options.load()
            let domain = domain.lowercased()
            let keys = DKIMKeyring(directory: config.dkimDirectory).signingKeys(for: domain)
            let records = PublishedRecords.records(for: domain, config: config, keys: keys)
            guard check else {
                say("; DNS records for \(domain), served by \(config.server.hostname)")
                if keys.isEmpty { say("; no DKIM key yet: swallow dkim generate \(domain)") }
                for record in records { say(record.zoneLine) }
                say(";")
                say("; MTA-STS policy, served at https://mta-sts.\(domain)/.well-known/mta-sts.txt:")
                for line in PublishedRecords.policy(host: config.server.hostname).split(separator: "\n") { say(";   \(line)") }
                say("; (RFC 8461 §3.3: mta-sts.\(domain) must resolve to a web server with a certificate for that name")
                say(";  serving this file; until it does, the _mta-sts record has no effect.)")
                return
            }
            let resolver = DNSResolver(configuration: config.resolverConfiguration)
            let statuses = await PublishedRecords.check(records, host: config.server.hostname, resolver: resolver)
            var counts = (ok: 0, missing: 0, different: 0)
            for (record, status) in zip(records, statuses) {
                switch status {
                case .ok:
                    counts.ok += 1
                    say("ok        \(record.name) \(record.type)")
                case .missing:
                    counts.missing += 1
                    say("missing   \(record.name) \(record.type)")
                    say("  publish: \(record.zoneLine)")
                case .different(let published):
                    counts.different += 1
                    say("different \(record.name) \(record.type)")
                    say("  published: \(published)")
                    say("  expected:  \(record.zoneLine)")
                }
            }
            say("\(counts.ok) ok, \(counts.missing) missing, \(counts.different) different")
            if counts.missing + counts.different > 0 { throw ExitCode.failure }
        }
    }
}
