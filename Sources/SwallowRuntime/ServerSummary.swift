import Crypto
import Foundation
import X509

/// What a user needs to set up a mail client and to trust the certificate: printed at every
/// start and by `swallow status`. A client shown a self-signed certificate can compare its
/// SHA-256 fingerprint with this one.
public struct ServerSummary: Sendable, Equatable {
    public struct ClientSetting: Sendable, Equatable {
        public var use: String
        public var host: String
        public var port: Int
        public var security: String
    }

    public var hostname: String
    public var fingerprint: String?
    public var certificateSubject: String?
    public var certificateExpiry: Date?
    public var clientSettings: [ClientSetting]

    /// - Parameter boundPorts: listener name → the port it was bound to (a configured port 0
    ///   is the system's choice); the configured port otherwise.
    public init(configuration config: SwallowConfiguration, boundPorts: [String: Int] = [:]) {
        hostname = config.server.hostname
        if let (der, certificate) = config.certificate() {
            fingerprint = SHA256.hash(data: der).map { String(format: "%02X", $0) }.joined(separator: ":")
            certificateSubject = certificate.subject.description
            certificateExpiry = certificate.notValidAfter
        }
        var settings: [ClientSetting] = []
        func add(_ use: String, _ name: String, _ addresses: [HostPort], _ security: String) {
            guard let first = addresses.first else { return }
            settings.append(.init(use: use, host: config.server.hostname, port: boundPorts[name] ?? first.port, security: security))
        }
        add("outgoing (SMTP submission)", "submission", config.listen.submission, "STARTTLS")
        add("outgoing (SMTP submission)", "submissions", config.listen.submissions, "SSL/TLS")
        add("incoming (IMAP)", "imap", config.listen.imap, "STARTTLS")
        add("incoming (IMAP)", "imaps", config.listen.imaps, "SSL/TLS")
        add("incoming (POP3)", "pop3", config.listen.pop3, "STARTTLS")
        add("incoming (POP3)", "pop3s", config.listen.pop3s, "SSL/TLS")
        clientSettings = settings
    }

    /// The lines to print.
    public var lines: [String] {
        var out: [String] = []
        if let fingerprint {
            out.append("certificate SHA-256 fingerprint \(fingerprint)")
            if let certificateSubject, let certificateExpiry {
                out.append("certificate \(certificateSubject), valid until \(ISO8601DateFormatter().string(from: certificateExpiry))")
            }
        } else {
            out.append("certificate: none readable")
        }
        out.append("mail client settings (user name: the full address; password: the account's):")
        for s in clientSettings {
            out.append("  \(s.use.padding(toLength: 27, withPad: " ", startingAt: 0)) \(s.host) port \(s.port), \(s.security)")
        }
        return out
    }
}
