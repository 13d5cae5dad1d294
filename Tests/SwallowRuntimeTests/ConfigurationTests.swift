import Foundation
import SwallowRuntime
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test func emptyFileGivesDocumentedDefaults() throws {
        let c = try SwallowConfiguration.parse("", path: "/etc/swallow/swallow.toml")
        #expect(c.server.hostname == "localhost")
        #expect(c.store.backend == .sqlite)
        #expect(c.relay.trustedNetworks.map(\.description) == ["127.0.0.0/8", "::1/128"])
        #expect(c.listen.smtp.isEmpty)
        #expect(c.databasePath == "/etc/swallow/swallow.sqlite")
        #expect(!c.tls.namedExplicitly)
        #expect(c.smarthostCAPath == nil, "the system's roots")
        #expect(c.queue.commandTimeout == 300 && c.queue.dataTimeout == 600)
        // The documented limits (README's table).
        #expect(c.auth.tlsAuthOnly && !c.auth.allowPlaintextWithoutTLS)
        #expect(c.auth.scramIterations == 65_536 && c.auth.maxFailuresPerConnection == 3)
        #expect(c.limits == SwallowConfiguration.Limits())
        #expect(c.limits.maxConnections == 10_000 && c.limits.maxConnectionsPerClient == 50)
        #expect(c.limits.loginTimeout == 60 && c.limits.shutdownGrace == 10 && c.limits.outputStallTimeout == 120)
    }

    @Test func limitsParse() throws {
        let c = try SwallowConfiguration.parse("""
            [auth]
            tls_auth_only = false
            scram_iterations = 4096
            max_failures_per_connection = 5
            [limits]
            max_connections = 20
            max_connections_per_client = 2
            max_message_size = 1048576
            max_recipients = 100
            smtp_max_line_length = 4096
            pop3_max_line_length = 512
            imap_max_line_length = 8192
            imap_prelogin_literal_size = 1024
            smtp_idle_timeout = 301
            pop3_idle_timeout = 601
            imap_idle_timeout = 1801
            login_timeout = 5
            output_stall_timeout = 7
            shutdown_grace = 3
            """, path: "f.toml")
        #expect(!c.auth.tlsAuthOnly && c.auth.scramIterations == 4096 && c.auth.maxFailuresPerConnection == 5)
        let l = c.limits
        let counts: [Int] = [l.maxConnections, l.maxConnectionsPerClient, l.maxMessageSize, l.maxRecipients]
        #expect(counts == [20, 2, 1_048_576, 100])
        let lines: [Int] = [l.smtpMaxLineLength, l.pop3MaxLineLength, l.imapMaxLineLength, l.imapPreLoginLiteralSize]
        #expect(lines == [4096, 512, 8192, 1024])
        let seconds: [Int] = [l.smtpIdleTimeout, l.pop3IdleTimeout, l.imapIdleTimeout, l.loginTimeout, l.outputStallTimeout, l.shutdownGrace]
        #expect(seconds == [301, 601, 1801, 5, 7, 3])
    }

    @Test func fullFileParses() throws {
        let text = """
            [server]
            hostname = "mail.example.test"
            data_dir = "/var/lib/swallow"
            user = "mail"
            [listen]
            smtp = ["0.0.0.0:25", "[::1]:2525"]
            submission = []
            admin = ["127.0.0.1:8080"]
            [tls]
            certificate = "/etc/ssl/mail.pem"
            private_key = "mail.key"
            [auth]
            allow_plaintext_without_tls = true
            [relay]
            trusted_networks = ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]
            smarthost = "relay.example.net:587"
            smarthost_ca_file = "relay-ca.pem"
            [queue]
            command_timeout = 60
            data_timeout = 120
            [dns]
            nameservers = ["127.0.0.1:5353"]
            [transport]
            "Example.NET" = "127.0.0.1:2526"
            [store]
            backend = "postgres"
            url = "postgres://u:p@127.0.0.1:5432/swallow"
            """
        let c = try SwallowConfiguration.parse(text, path: "/tmp/x.toml")
        #expect(c.server.hostname == "mail.example.test")
        #expect(c.listen.smtp == [HostPort(host: "0.0.0.0", port: 25), HostPort(host: "::1", port: 2525)])
        #expect(c.listen.smtp[1].description == "[::1]:2525")
        #expect(c.listen.submission.isEmpty)
        #expect(c.tls.namedExplicitly)
        #expect(c.certificatePath == "/etc/ssl/mail.pem")
        #expect(c.privateKeyPath == "/var/lib/swallow/mail.key")
        #expect(c.auth.allowPlaintextWithoutTLS)
        #expect(c.relay.trustedNetworks.map(\.description) == ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"])
        #expect(c.relay.smarthost == HostPort(host: "relay.example.net", port: 587))
        #expect(c.smarthostCAPath == "/var/lib/swallow/relay-ca.pem", "relative to data_dir, like tls.certificate")
        #expect(c.queue.commandTimeout == 60 && c.queue.dataTimeout == 120)
        #expect(c.transport == ["example.net": HostPort(host: "127.0.0.1", port: 2526)])
        #expect(c.store.backend == .postgres)
    }

    @Test func logAndQueueSettings() throws {
        let c = try SwallowConfiguration.parse("[log]\nlevel = \"Warning\"\nformat = \"json\"\n[queue]\ndelay_warning = 0\nrecipient_limit = 10\n",
                                               path: "f.toml")
        #expect(c.log.level == .warning && c.log.format == .json)
        #expect(c.queue.delayWarning == 0)
        #expect(c.queue.recipientLimit == 10)
        let defaults = try SwallowConfiguration.parse("", path: "f.toml").log
        #expect(defaults.level == .info && defaults.format == .text)
    }

    /// Each mistake is one line naming the file and the key.
    @Test(arguments: [
        ("[server]\nhostnme = \"x\"", "f.toml: server.hostnme: unknown key"),
        ("[lisen]\nsmtp = []", "f.toml: lisen: unknown key"),
        ("[listen]\nsmtp = [\"0.0.0.0:99999\"]", "f.toml: listen.smtp: '0.0.0.0:99999' is not a valid host:port"),
        ("[listen]\nimap = [\"no-port\"]", "f.toml: listen.imap: 'no-port' is not a valid host:port"),
        ("[listen]\nimap = [\"::1:143\"]", "f.toml: listen.imap: '::1:143' is not a valid host:port"),
        ("[listen]\nimap = \"0.0.0.0:143\"", "f.toml: listen.imap: must be a list of strings"),
        ("[relay]\ntrusted_networks = [\"10.0.0.0/33\"]", "f.toml: relay.trusted_networks: '10.0.0.0/33' is not a valid CIDR network"),
        ("[relay]\ntrusted_networks = [\"banana\"]", "f.toml: relay.trusted_networks: 'banana' is not a valid CIDR network"),
        ("[auth]\nallow_plaintext_without_tls = \"yes\"", "f.toml: auth.allow_plaintext_without_tls: must be true or false"),
        ("[store]\nbackend = \"mysql\"", "f.toml: store.backend: 'mysql' is not one of: sqlite, postgres"),
        ("[store]\nbackend = \"postgres\"", "f.toml: store.url: the postgres backend needs a url"),
        ("[dns]\nnameservers = [\"dns.example:53\"]", "f.toml: dns.nameservers: 'dns.example:53' is not a valid ip:port"),
        ("[transport]\n\"a.test\" = \"nowhere\"", "f.toml: transport.a.test: 'nowhere' is not a valid host:port"),
        ("[queue]\ndata_timeout = 0", "f.toml: queue.data_timeout: must be a positive number of seconds"),
        ("[queue]\nmax_connections = 0", "f.toml: queue.max_connections: must be a positive number"),
        ("[queue]\ninitial_concurrency = 30", "f.toml: queue.initial_concurrency: must not exceed queue.destination_concurrency"),
        ("[queue]\ndelay_warning = -1", "f.toml: queue.delay_warning: must be a number of seconds (0: never)"),
        ("[log]\nlevel = \"loud\"", "f.toml: log.level: 'loud' is not one of: trace, debug, info, notice, warning, error, critical"),
        ("[log]\nformat = \"xml\"", "f.toml: log.format: 'xml' is not one of: text, json"),
        ("[limits]\nmax_connections = 0", "f.toml: limits.max_connections: must be a positive whole number"),
        ("[limits]\nlogin_timeout = \"60s\"", "f.toml: limits.login_timeout: must be a positive whole number"),
        ("[limits]\nsmtp_max_line_length = 511", "f.toml: limits.smtp_max_line_length: must be at least 512"),
        ("[limits]\npop3_max_line_length = 100", "f.toml: limits.pop3_max_line_length: must be at least 255"),
        ("[limits]\nmax_recipients = 99", "f.toml: limits.max_recipients: must be at least 100"),
        ("[limits]\nmax_conections = 5", "f.toml: limits.max_conections: unknown key"),
        ("[auth]\nscram_iterations = 4095", "f.toml: auth.scram_iterations: must be between 4096 (RFC 7677) and 10000000"),
        ("[auth]\ntls_auth_only = 1", "f.toml: auth.tls_auth_only: must be true or false"),
        ("server = 1", "f.toml: server: must be a table"),
        ("[server\nhostname = 1", "f.toml: line 1: "),
    ])
    func mistakesNameTheFileAndKey(text: String, expected: String) {
        do {
            _ = try SwallowConfiguration.parse(text, path: "f.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "got: \(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func cidrMembership() throws {
        let v4 = try #require(CIDRNetwork("192.168.4.0/22"))
        #expect(v4.contains(try #require(IPAddress("192.168.7.255"))))
        #expect(!v4.contains(try #require(IPAddress("192.168.8.0"))))
        #expect(!v4.contains(try #require(IPAddress("::1"))))
        let v6 = try #require(CIDRNetwork("2001:db8::/33"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:7fff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db8:8000::1"))))
        #expect(try #require(CIDRNetwork("0.0.0.0/0")).contains(try #require(IPAddress("8.8.8.8"))))
    }

    @Test func initWritesAConfigThatLoadsAndRefusesToOverwrite() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-init-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try await DataDirectory.initialize(.init(directory: dir, domain: "Example.test"))
        #expect(config.server.hostname == "example.test")
        #expect(FileManager.default.fileExists(atPath: dir + "/cert.pem"))
        let keyMode = try FileManager.default.attributesOfItem(atPath: dir + "/key.pem")[.posixPermissions] as? NSNumber
        #expect(keyMode?.intValue == 0o600)
        let ports = ListenerPorts.forThisProcess()
        #expect(config.listen.smtp == [HostPort(host: "0.0.0.0", port: ports.smtp)])
        #expect(config.listen.lmtp == [HostPort(host: "127.0.0.1", port: ports.lmtp)])
        #expect(config.listen.managesieve == [HostPort(host: "0.0.0.0", port: ports.managesieve)])
        let reloaded = try SwallowConfiguration.load(path: dir + "/swallow.toml")
        #expect(reloaded == config)
        let backend = try Backend.open(reloaded)
        #expect(try await backend.directory.listDomains() == ["example.test"])
        await #expect(throws: ConfigurationError.self) { try await DataDirectory.initialize(.init(directory: dir, domain: "x.test")) }
    }

    @Test func namedCertificateMustExist() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-cert-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try SwallowConfiguration.parse("[tls]\ncertificate = \"missing.pem\"", path: dir + "/swallow.toml")
        #expect(throws: ConfigurationError(file: dir + "/swallow.toml", key: "tls.certificate",
                                           message: "file '\(dir)/missing.pem' does not exist")) {
            try DataDirectory.ensureCertificate(c)
        }
        let unnamed = try SwallowConfiguration.parse("", path: dir + "/swallow.toml")
        try DataDirectory.ensureCertificate(unnamed)
        #expect(FileManager.default.fileExists(atPath: dir + "/cert.pem"))
    }
}
