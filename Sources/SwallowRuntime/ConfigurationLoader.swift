import Logging
import Foundation
import Delivery
import Filters
import MailAuth
import POP3Protocol
import SMTPProtocol
import TOMLKit

extension SwallowConfiguration {
    /// Reads and validates a configuration file. Every problem is a `ConfigurationError` that
    /// names the file and the key.
    public static func load(path: String) throws(ConfigurationError) -> SwallowConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, key: nil, message: "cannot read: \((error as NSError).localizedDescription)")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws(ConfigurationError) -> SwallowConfiguration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(file: path, key: nil, message: "line \(error.source.begin.line): \(error.description)")
        } catch {
            throw ConfigurationError(file: path, key: nil, message: "not valid TOML: \(error)")
        }
        var reader = TableReader(file: path)
        var config = SwallowConfiguration()
        config.sourcePath = path
        try reader.check(table, section: nil, allowed: ["server", "listen", "tls", "auth", "relay", "dns", "transport", "queue", "store", "limits", "log", "trace", "authentication", "filters", "sieve", "quota", "delivery"])

        if let server = try reader.section(table, "server", allowed: ["hostname", "data_dir", "user"]) {
            if let v = try reader.string(server, "server", "hostname") {
                guard HostPort.isHostname(Substring(v)) else { throw reader.error("server.hostname", "'\(v)' is not a host name") }
                config.server.hostname = v
            }
            if let v = try reader.string(server, "server", "data_dir") {
                guard !v.isEmpty else { throw reader.error("server.data_dir", "must not be empty") }
                config.server.dataDir = v
            }
            if let v = try reader.string(server, "server", "user") { config.server.user = v }
        }
        let roles: Set<String> = ["smtp", "submission", "submissions", "lmtp", "imap", "imaps", "pop3", "pop3s", "managesieve", "admin"]
        if let listen = try reader.section(table, "listen", allowed: roles) {
            func addresses(_ key: String) throws(ConfigurationError) -> [HostPort]? {
                try reader.stringArray(listen, "listen", key)?.map { (s: String) throws(ConfigurationError) -> HostPort in
                    guard let hp = HostPort(s) else { throw reader.error("listen.\(key)", "'\(s)' is not a valid host:port") }
                    return hp
                }
            }
            if let v = try addresses("smtp") { config.listen.smtp = v }
            if let v = try addresses("submission") { config.listen.submission = v }
            if let v = try addresses("submissions") { config.listen.submissions = v }
            if let v = try addresses("lmtp") { config.listen.lmtp = v }
            if let v = try addresses("imap") { config.listen.imap = v }
            if let v = try addresses("imaps") { config.listen.imaps = v }
            if let v = try addresses("pop3") { config.listen.pop3 = v }
            if let v = try addresses("pop3s") { config.listen.pop3s = v }
            if let v = try addresses("admin") { config.listen.admin = v }
            if let v = try addresses("managesieve") { config.listen.managesieve = v }
        }
        if let tls = try reader.section(table, "tls", allowed: ["certificate", "private_key"]) {
            if let v = try reader.string(tls, "tls", "certificate") {
                config.tls.certificate = v
                config.tls.namedExplicitly = true
            }
            if let v = try reader.string(tls, "tls", "private_key") {
                config.tls.privateKey = v
                config.tls.namedExplicitly = true
            }
        }
        if let auth = try reader.section(table, "auth", allowed: ["allow_plaintext_without_tls", "tls_auth_only",
                                                                   "scram_iterations", "max_failures_per_connection",
                                                                   "system_users", "system_users_min_uid"]) {
            if let v = try reader.bool(auth, "auth", "system_users") { config.auth.systemUsers = v }
            if let v = try reader.positiveInt(auth, "auth", "system_users_min_uid") { config.auth.systemUsersMinimumUID = v }
            if let v = try reader.bool(auth, "auth", "allow_plaintext_without_tls") { config.auth.allowPlaintextWithoutTLS = v }
            if let v = try reader.bool(auth, "auth", "tls_auth_only") { config.auth.tlsAuthOnly = v }
            if let v = try reader.positiveInt(auth, "auth", "scram_iterations") {
                let range = SCRAMCredentials.rfcMinimumIterations...SCRAMCredentials.maximumIterations
                guard range.contains(v) else {
                    throw reader.error("auth.scram_iterations", "must be between \(range.lowerBound) (RFC 7677) and \(range.upperBound)")
                }
                config.auth.scramIterations = v
            }
            if let v = try reader.positiveInt(auth, "auth", "max_failures_per_connection") { config.auth.maxFailuresPerConnection = v }
        }
        let limitKeys: [(String, WritableKeyPath<SwallowConfiguration.Limits, Int>)] = [
            ("max_connections", \.maxConnections), ("max_connections_per_client", \.maxConnectionsPerClient),
            ("max_message_size", \.maxMessageSize), ("max_recipients", \.maxRecipients),
            ("smtp_max_line_length", \.smtpMaxLineLength), ("pop3_max_line_length", \.pop3MaxLineLength),
            ("imap_max_line_length", \.imapMaxLineLength), ("imap_prelogin_literal_size", \.imapPreLoginLiteralSize),
            ("smtp_idle_timeout", \.smtpIdleTimeout), ("pop3_idle_timeout", \.pop3IdleTimeout),
            ("imap_idle_timeout", \.imapIdleTimeout), ("login_timeout", \.loginTimeout),
            ("output_stall_timeout", \.outputStallTimeout), ("shutdown_grace", \.shutdownGrace),
        ]
        if let limits = try reader.section(table, "limits", allowed: Set(limitKeys.map(\.0))) {
            for (key, path) in limitKeys {
                if let v = try reader.positiveInt(limits, "limits", key) { config.limits[keyPath: path] = v }
            }
            // The RFC floors below which real clients break.
            let floors: [(String, Int, Int)] = [
                ("smtp_max_line_length", config.limits.smtpMaxLineLength, SMTPLimits.rfcMinimumCommandLineLength),
                ("pop3_max_line_length", config.limits.pop3MaxLineLength, POP3Limits.maxCommandLineLength),  // RFC 2449 §4
                ("imap_max_line_length", config.limits.imapMaxLineLength, 8192),  // RFC 7162 §4
                ("max_recipients", config.limits.maxRecipients, 100),             // RFC 5321 §4.5.3.1.8
            ]
            for (key, value, floor) in floors where value < floor {
                throw reader.error("limits.\(key)", "must be at least \(floor)")
            }
        }
        if let relay = try reader.section(table, "relay", allowed: ["trusted_networks", "smarthost", "smarthost_user", "smarthost_password",
                                                                    "smarthost_ca_file"]) {
            if let v = try reader.string(relay, "relay", "smarthost_user") { config.relay.smarthostUser = v }
            if let v = try reader.string(relay, "relay", "smarthost_password") { config.relay.smarthostPassword = v }
            if let v = try reader.string(relay, "relay", "smarthost_ca_file") { config.relay.smarthostCAFile = v }
            if let nets = try reader.stringArray(relay, "relay", "trusted_networks") {
                config.relay.trustedNetworks = try nets.map { (s: String) throws(ConfigurationError) -> CIDRNetwork in
                    guard let n = CIDRNetwork(s) else { throw reader.error("relay.trusted_networks", "'\(s)' is not a valid CIDR network") }
                    return n
                }
            }
            if let v = try reader.string(relay, "relay", "smarthost"), !v.isEmpty {
                guard let hp = HostPort(v) else { throw reader.error("relay.smarthost", "'\(v)' is not a valid host:port") }
                config.relay.smarthost = hp
            }
        }
        if let dns = try reader.section(table, "dns", allowed: ["nameservers"]) {
            if let v = try reader.stringArray(dns, "dns", "nameservers") {
                config.dns.nameservers = try v.map { (s: String) throws(ConfigurationError) -> HostPort in
                    guard let hp = HostPort(s), IPAddress(hp.host) != nil else {
                        throw reader.error("dns.nameservers", "'\(s)' is not a valid ip:port")
                    }
                    return hp
                }
            }
        }
        if let transport = try reader.section(table, "transport", allowed: nil) {
            for key in transport.keys {
                guard let value = transport[key]?.string else { throw reader.error("transport.\(key)", "must be a \"host:port\" string") }
                // ".example.net" (leading dot) matches every subdomain, as in Postfix transport_maps.
                let domain = key.hasPrefix(".") ? Substring(key.dropFirst()) : Substring(key)
                guard HostPort.isHostname(domain) else { throw reader.error("transport.\(key)", "'\(key)' is not a domain") }
                guard let hp = HostPort(value) else { throw reader.error("transport.\(key)", "'\(value)' is not a valid host:port") }
                config.transport[key.lowercased()] = hp
            }
        }
        let queueKeys: [(String, WritableKeyPath<SwallowConfiguration.Queue, Int>)] = [
            ("min_backoff", \.minBackoff), ("max_backoff", \.maxBackoff), ("max_lifetime", \.maxLifetime),
            ("command_timeout", \.commandTimeout), ("data_timeout", \.dataTimeout),
            ("max_connections", \.maxConnections), ("destination_concurrency", \.destinationConcurrency),
            ("initial_concurrency", \.initialConcurrency), ("dead_after_failures", \.deadAfterFailures),
            ("connection_cache_time", \.connectionCacheTime), ("connection_reuse_limit", \.connectionReuseLimit),
            ("recipient_limit", \.recipientLimit), ("active_limit", \.activeLimit),
        ]
        let countKeys: Set = ["max_connections", "destination_concurrency", "initial_concurrency", "dead_after_failures",
                              "connection_reuse_limit", "recipient_limit", "active_limit"]
        if let queue = try reader.section(table, "queue", allowed: Set(queueKeys.map(\.0) + ["delay_warning"])) {
            for (key, path) in queueKeys {
                guard let value = queue[key] else { continue }
                guard let number = value.int, number > 0 else {
                    throw reader.error("queue.\(key)", countKeys.contains(key) ? "must be a positive number" : "must be a positive number of seconds")
                }
                config.queue[keyPath: path] = number
            }
            if let value = queue["delay_warning"] {
                guard let seconds = value.int, seconds >= 0 else {
                    throw reader.error("queue.delay_warning", "must be a number of seconds (0: never)")
                }
                config.queue.delayWarning = seconds
            }
            if config.queue.initialConcurrency > config.queue.destinationConcurrency {
                throw reader.error("queue.initial_concurrency", "must not exceed queue.destination_concurrency")
            }
            if config.queue.minBackoff > config.queue.maxBackoff {
                throw reader.error("queue.min_backoff", "must not exceed queue.max_backoff")
            }
        }
        if let store = try reader.section(table, "store", allowed: ["backend", "url"]) {
            if let v = try reader.string(store, "store", "backend") {
                guard let backend = Backend(rawValue: v) else { throw reader.error("store.backend", "'\(v)' is not one of: sqlite, postgres") }
                config.store.backend = backend
            }
            if let v = try reader.string(store, "store", "url") { config.store.url = v }
            if config.store.backend == .postgres, config.store.url.isEmpty {
                throw reader.error("store.url", "the postgres backend needs a url (postgres://user:pass@host:port/db)")
            }
        }
        if let log = try reader.section(table, "log", allowed: ["level", "format"]) {
            if let v = try reader.string(log, "log", "level") {
                guard let level = Logger.Level(rawValue: v.lowercased()) else {
                    throw reader.error("log.level", "'\(v)' is not one of: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                config.log.level = level
            }
            if let v = try reader.string(log, "log", "format") {
                guard let format = SwallowConfiguration.LogFormat(rawValue: v.lowercased()) else {
                    throw reader.error("log.format", "'\(v)' is not one of: text, json")
                }
                config.log.format = format
            }
        }
        if let section = try reader.section(table, "authentication", allowed: ["verify", "dmarc_reject", "dmarc_quarantine", "public_suffix_list"]) {
            if let v = try reader.bool(section, "authentication", "dmarc_quarantine") { config.authentication.dmarcQuarantine = v }
            if let v = try reader.bool(section, "authentication", "verify") { config.authentication.verify = v }
            if let v = try reader.bool(section, "authentication", "dmarc_reject") { config.authentication.dmarcReject = v }
            if let v = try reader.string(section, "authentication", "public_suffix_list") { config.authentication.publicSuffixList = v }
        }
        if let filters = try reader.section(table, "filters", allowed: ["clamav", "spam", "milter"]) {
            config.filters = try Self.filters(filters, &reader)
        }
        if let delivery = try reader.section(table, "delivery", allowed: ["target", "mbox_path", "mbox_folders", "maildir_path", "domains", "users"]) {
            func target(_ table: TOMLTable, _ name: String, _ key: String) throws(ConfigurationError) -> SpoolConfiguration.Target? {
                guard let value = table[name] else { return nil }
                guard let s = value.string, let t = SpoolConfiguration.Target(rawValue: s) else {
                    throw reader.error(key, "must be \"store\", \"mbox\" or \"maildir\"")
                }
                return t
            }
            if let t = try target(delivery, "target", "delivery.target") { config.delivery.target = t }
            for (key, path) in [("mbox_path", \SpoolConfiguration.mboxPath), ("mbox_folders", \.mboxFolders), ("maildir_path", \.maildirPath)] {
                guard let v = try reader.string(delivery, "delivery", key) else { continue }
                // Absolute once %h is expanded; %u and %h are the only variables.
                guard v.hasPrefix("/") || v.hasPrefix("%h/"), !v.split(separator: "/").contains("..") else {
                    throw reader.error("delivery.\(key)", "must be an absolute path or start with %h/, without \"..\"")
                }
                config.delivery[keyPath: path] = v
            }
            for (section, keyPath) in [("domains", \SpoolConfiguration.domains), ("users", \.users)] {
                guard let table = try reader.section(delivery, section, allowed: nil) else { continue }
                for key in table.keys {
                    config.delivery[keyPath: keyPath][key.lowercased()] = try target(table, key, "delivery.\(section).\(key)")
                }
            }
        }
        if let quota = try reader.section(table, "quota", allowed: ["full_tempfail", "warning_percent", "admins"]) {
            if let v = try reader.bool(quota, "quota", "full_tempfail") { config.quota.fullTempfail = v }
            if let v = quota["warning_percent"] {
                guard let n = v.int, (0...100).contains(n) else { throw reader.error("quota.warning_percent", "must be a whole number from 0 (off) to 100") }
                config.quota.warningPercent = n
            }
            if let v = try reader.stringArray(quota, "quota", "admins") { config.quota.admins = v.map { $0.lowercased() } }
        }
        if let sieve = try reader.section(table, "sieve", allowed: ["before"]) {
            config.sieveBefore = try reader.string(sieve, "sieve", "before")
        }
        if let trace = try reader.section(table, "trace", allowed: ["retention_days"]) {
            if let value = trace["retention_days"] {
                guard let days = value.int, days >= 0 else { throw reader.error("trace.retention_days", "must be a number of days (0: off)") }
                config.trace.retentionDays = days
            }
        }
        return config
    }

    /// `[filters.clamav]` (address, timeout, on_failure), `[filters.spam]` (engine, address,
    /// timeout, on_failure, reject_score, junk_score, scan_authenticated) and `[[filters.milter]]`
    /// (address, timeout, default_action), a list run in order.
    private static func filters(_ table: TOMLTable, _ reader: inout TableReader) throws(ConfigurationError) -> ContentFilterConfiguration {
        var result = ContentFilterConfiguration()
        func address(_ t: TOMLTable, _ section: String) throws(ConfigurationError) -> ScannerAddress {
            guard let text = try reader.string(t, section, "address") else { throw reader.error("\(section).address", "is required") }
            guard let a = ScannerAddress(text) else {
                throw reader.error("\(section).address", "'\(text)' is not host:port or unix:/path")
            }
            return a
        }
        func policy(_ t: TOMLTable, _ section: String) throws(ConfigurationError) -> ContentFilterConfiguration.FailurePolicy? {
            guard let text = try reader.string(t, section, "on_failure") else { return nil }
            guard let p = ContentFilterConfiguration.FailurePolicy(rawValue: text) else {
                throw reader.error("\(section).on_failure", "'\(text)' is not one of: tempfail, accept")
            }
            return p
        }
        func score(_ t: TOMLTable, _ section: String, _ key: String) throws(ConfigurationError) -> Double? {
            guard let value = t[key] else { return nil }
            guard let n = value.double ?? value.int.map(Double.init) else { throw reader.error("\(section).\(key)", "must be a number") }
            return n
        }
        if let t = try reader.section(table, "clamav", allowed: ["address", "timeout", "on_failure"]) {
            var av = ContentFilterConfiguration.Antivirus(address: try address(t, "filters.clamav"))
            if let n = try reader.positiveInt(t, "filters.clamav", "timeout") { av.timeout = .seconds(n) }
            if let p = try policy(t, "filters.clamav") { av.onFailure = p }
            result.antivirus = av
        }
        if let t = try reader.section(table, "spam", allowed: ["engine", "address", "timeout", "on_failure", "reject_score",
                                                               "junk_score", "scan_authenticated"]) {
            let engineText = try reader.string(t, "filters.spam", "engine") ?? "rspamd"
            guard let engine = ContentFilterConfiguration.Spam.Engine(rawValue: engineText) else {
                throw reader.error("filters.spam.engine", "'\(engineText)' is not one of: rspamd, spamd")
            }
            var spam = ContentFilterConfiguration.Spam(engine: engine, address: try address(t, "filters.spam"))
            if let n = try reader.positiveInt(t, "filters.spam", "timeout") { spam.timeout = .seconds(n) }
            if let p = try policy(t, "filters.spam") { spam.onFailure = p }
            spam.rejectScore = try score(t, "filters.spam", "reject_score")
            spam.junkScore = try score(t, "filters.spam", "junk_score")
            if let v = try reader.bool(t, "filters.spam", "scan_authenticated") { spam.scanAuthenticated = v }
            result.spam = spam
        }
        if let value = table["milter"] {
            guard let list = value.array else { throw reader.error("filters.milter", "must be a list of tables ([[filters.milter]])") }
            for (n, element) in list.enumerated() {
                let section = "filters.milter[\(n)]"
                guard let t = element.table else { throw reader.error(section, "must be a table ([[filters.milter]])") }
                try reader.check(t, section: section, allowed: ["address", "timeout", "default_action"])
                var milter = ContentFilterConfiguration.Milter(address: try address(t, section))
                if let n = try reader.positiveInt(t, section, "timeout") { milter.timeout = .seconds(n) }
                if let text = try reader.string(t, section, "default_action") {
                    guard let p = ContentFilterConfiguration.FailurePolicy(rawValue: text) else {
                        throw reader.error("\(section).default_action", "'\(text)' is not one of: tempfail, accept")
                    }
                    milter.defaultAction = p
                }
                result.milters.append(milter)
            }
        }
        return result
    }
}

/// Typed access to TOML tables that reports the file and key on every mistake.
private struct TableReader {
    let file: String

    func error(_ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, key: key, message: message)
    }

    func check(_ table: TOMLTable, section: String?, allowed: Set<String>) throws(ConfigurationError) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            let name = section.map { "\($0).\(key)" } ?? key
            throw error(name, "unknown key (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    mutating func section(_ table: TOMLTable, _ name: String, allowed: Set<String>?) throws(ConfigurationError) -> TOMLTable? {
        guard let value = table[name] else { return nil }
        guard let section = value.table else { throw error(name, "must be a table ([\(name)])") }
        if let allowed { try check(section, section: name, allowed: allowed) }
        return section
    }

    func string(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigurationError) -> String? {
        guard let value = table[key] else { return nil }
        guard let s = value.string else { throw error("\(section).\(key)", "must be a string") }
        return s
    }

    func bool(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigurationError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let b = value.bool else { throw error("\(section).\(key)", "must be true or false") }
        return b
    }

    func positiveInt(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigurationError) -> Int? {
        guard let value = table[key] else { return nil }
        guard let n = value.int, n > 0 else { throw error("\(section).\(key)", "must be a positive whole number") }
        return n
    }

    func stringArray(_ table: TOMLTable, _ section: String, _ key: String) throws(ConfigurationError) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw error("\(section).\(key)", "must be a list of strings") }
        var result: [String] = []
        for element in array {
            guard let s = element.string else { throw error("\(section).\(key)", "must be a list of strings") }
            result.append(s)
        }
        return result
    }
}
