import Foundation
import Logging
import MailCore
import Metrics

/// What a scanner is told of the SMTP transaction besides the message.
public struct ScanEnvelope: Sendable {
    public var clientIP = ""
    public var helo = ""
    public var sender = ""
    public var recipients: [String] = []
    public var queueID = ""
    public var authenticatedUser: String?
    /// The SASL mechanism of that login (milter macro `{auth_type}`: OpenDKIM signs for a
    /// sender that has one).
    public var authenticationMechanism: String?
    /// This server's name (rspamd's `MTA-Name`, milter macro `j`).
    public var hostname = ""
    /// The listener the message came in on (milter macro `{daemon_name}`: smtp, submission,
    /// submissions, lmtp).
    public var daemonName = ""
    public init() {}
}

/// A spam scanner's verdict. `action` is rspamd's (nil from spamd).
public struct SpamScore: Sendable, Equatable {
    public var score: Double
    public var required: Double
    public var isSpam: Bool
    public var action: String?
    /// rspamd's rewritten Subject for the `rewrite subject` action.
    public var subject: String?
    public var symbols: [String]
}

/// The scanners in front of delivery (`[filters.clamav]`, `[filters.spam]`, `[[filters.milter]]`).
public struct ContentFilterConfiguration: Sendable, Equatable {
    /// What the client hears when a scanner is down or slow: a temporary failure (`451 4.7.1`,
    /// the client retries) or acceptance without that scan (logged).
    public enum FailurePolicy: String, Sendable { case tempfail, accept }

    public struct Antivirus: Sendable, Equatable {
        public var address: ScannerAddress
        public var timeout: Duration = .seconds(30)
        public var onFailure: FailurePolicy = .tempfail
        public init(address: ScannerAddress) { self.address = address }
    }

    public struct Spam: Sendable, Equatable {
        public enum Engine: String, Sendable { case spamd, rspamd }
        public var engine: Engine
        public var address: ScannerAddress
        public var timeout: Duration = .seconds(30)
        public var onFailure: FailurePolicy = .accept
        /// spamd: refuse at or above this score (`550 5.7.1`); nil never refuses. rspamd's own
        /// `reject` action decides for rspamd.
        public var rejectScore: Double?
        /// spamd: file into Junk at or above this score; nil: spamd's own threshold.
        public var junkScore: Double?
        /// Scan mail from authenticated clients and trusted networks too (their mail is still
        /// scanned for viruses either way).
        public var scanAuthenticated = false
        public init(engine: Engine, address: ScannerAddress) { self.engine = engine; self.address = address }
    }

    /// One `[[filters.milter]]`: a Sendmail/Postfix mail filter (milter protocol 6).
    public struct Milter: Sendable, Equatable {
        public var address: ScannerAddress
        /// How long each reply may take (SMFIR_PROGRESS starts the wait again).
        public var timeout: Duration = .seconds(30)
        /// Postfix's milter_default_action: what happens when the milter is down, slow or
        /// answers nonsense. Postfix's default is tempfail too.
        public var defaultAction: FailurePolicy = .tempfail
        public init(address: ScannerAddress) { self.address = address }
    }

    public var antivirus: Antivirus?
    public var spam: Spam?
    /// Run in order after the scanners, each seeing the previous one's changes.
    public var milters: [Milter] = []
    public init(antivirus: Antivirus? = nil, spam: Spam? = nil, milters: [Milter] = []) {
        self.antivirus = antivirus; self.spam = spam; self.milters = milters
    }
    public var isEmpty: Bool { antivirus == nil && spam == nil && milters.isEmpty }
}

/// The verdict on one message, taken once for all its recipients.
public enum FilterVerdict: Sendable, Equatable {
    /// Deliver, with `headers` (complete fields, CRLF) above the message; `junk`: into each
    /// local recipient's Junk mailbox; `subject`: rspamd's rewritten Subject.
    case accept(headers: [UInt8], junk: Bool, subject: String?)
    /// Refuse with this reply (`550 5.7.1`, `554 5.7.1`, `451 4.7.1`).
    case refuse(code: Int, enhanced: (Int, Int, Int), text: String)

    public static func == (a: FilterVerdict, b: FilterVerdict) -> Bool {
        switch (a, b) {
        case let (.accept(h1, j1, s1), .accept(h2, j2, s2)): h1 == h2 && j1 == j2 && s1 == s2
        case let (.refuse(c1, e1, t1), .refuse(c2, e2, t2)): c1 == c2 && e1 == e2 && t1 == t2
        default: false
        }
    }
}

/// Runs the configured scanners on a message before it is acknowledged: virus first (an
/// infected message is never stored), then spam.
public struct ContentFilters: Sendable {
    public let configuration: ContentFilterConfiguration

    public init(_ configuration: ContentFilterConfiguration) { self.configuration = configuration }

    static let unavailable = "Content scanner unavailable, try again later"

    /// `message` as it will be stored (our trace fields included). `trusted`: the client is
    /// authenticated or in a trusted network (spam scanning skipped unless configured).
    public func scan(_ message: [UInt8], envelope: ScanEnvelope, trusted: Bool, logger: Logger) async -> FilterVerdict {
        if let av = configuration.antivirus {
            do {
                switch try await ClamdClient(address: av.address, timeout: av.timeout).scan(message) {
                case .clean:
                    Counter(label: "swallow_scanner_verdicts_total", dimensions: [("scanner", "clamav"), ("verdict", "clean")]).increment()
                case .infected(let signature):
                    Counter(label: "swallow_scanner_verdicts_total", dimensions: [("scanner", "clamav"), ("verdict", "infected")]).increment()
                    logger.notice("refused: virus", metadata: ["signature": "\(signature)"])
                    return .refuse(code: 554, enhanced: (5, 7, 1), text: "Message refused: virus found (\(Self.printable(signature)))")
                }
            } catch {
                Counter(label: "swallow_scanner_verdicts_total", dimensions: [("scanner", "clamav"), ("verdict", "unavailable")]).increment()
                logger.error("virus scanner unavailable", metadata: ["error": "\(error)", "policy": "\(av.onFailure.rawValue)"])
                if av.onFailure == .tempfail { return .refuse(code: 451, enhanced: (4, 7, 1), text: Self.unavailable) }
            }
        }
        guard let spam = configuration.spam, !trusted || spam.scanAuthenticated else {
            return .accept(headers: [], junk: false, subject: nil)
        }
        let score: SpamScore
        do {
            switch spam.engine {
            case .spamd: score = try await SpamdClient(address: spam.address, timeout: spam.timeout).check(message)
            case .rspamd: score = try await RspamdClient(address: spam.address, timeout: spam.timeout).check(message, envelope: envelope)
            }
        } catch {
            Counter(label: "swallow_scanner_verdicts_total", dimensions: [("scanner", spam.engine.rawValue), ("verdict", "unavailable")]).increment()
            logger.error("spam scanner unavailable", metadata: ["error": "\(error)", "policy": "\(spam.onFailure.rawValue)"])
            if spam.onFailure == .tempfail { return .refuse(code: 451, enhanced: (4, 7, 1), text: Self.unavailable) }
            return .accept(headers: [], junk: false, subject: nil)
        }
        let verdict = Self.decide(score, spam)
        let label: String = switch verdict {
        case .refuse(let code, _, _): code >= 500 ? "reject" : "tempfail"
        case .accept(_, let junk, _): junk ? "junk" : "ham"
        }
        Counter(label: "swallow_scanner_verdicts_total", dimensions: [("scanner", spam.engine.rawValue), ("verdict", label)]).increment()
        logger.info("spam scan", metadata: ["score": "\(score.score)", "required": "\(score.required)",
                                            "action": "\(score.action ?? (score.isSpam ? "spam" : "ham"))", "verdict": "\(label)"])
        return verdict
    }

    /// The decision for a score: spamd's by the configured scores, rspamd's by its action.
    static func decide(_ s: SpamScore, _ config: ContentFilterConfiguration.Spam) -> FilterVerdict {
        let junk: Bool
        var subject: String?
        switch s.action {
        case nil:
            if let reject = config.rejectScore, s.score >= reject {
                return .refuse(code: 550, enhanced: (5, 7, 1), text: "Message refused as spam")
            }
            junk = s.score >= (config.junkScore ?? s.required)
        case "reject":
            return .refuse(code: 550, enhanced: (5, 7, 1), text: "Message refused as spam")
        case "soft reject":
            return .refuse(code: 451, enhanced: (4, 7, 1), text: "Message deferred by the spam filter, try again later")
        case "greylist":
            return .refuse(code: 451, enhanced: (4, 7, 1), text: "Greylisted, try again later")
        case "rewrite subject":
            junk = true
            subject = s.subject
        case "add header":
            junk = true
        default:
            junk = false
        }
        let score = String(format: "%.1f", s.score), required = String(format: "%.1f", s.required)
        var fields = "X-Spam-Flag: \(junk ? "YES" : "NO")\r\n"
        fields += "X-Spam-Status: \(junk ? "Yes" : "No"), score=\(score) required=\(required)\r\n"
        fields += "X-Spam-Score: \(score)\r\n"
        if let action = s.action { fields += "X-Spam-Action: \(action)\r\n" }
        return .accept(headers: Array(fields.utf8), junk: junk, subject: subject)
    }

    /// A signature name as it may appear in a reply line: printable ASCII, bounded.
    static func printable(_ s: String) -> String {
        String(s.unicodeScalars.filter { $0.value >= 0x21 && $0.value < 0x7F }.prefix(100).map(Character.init))
    }

    /// `message` with its first Subject field replaced by `subject` (RFC 2047 encoded when not
    /// ASCII), or with one added when it had none.
    public static func rewritingSubject(_ message: [UInt8], to subject: String) -> [UInt8] {
        let value = subject.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 })
            ? subject : "=?UTF-8?B?\(Data(subject.utf8).base64EncodedString())?="
        let field = Array("Subject: \(value)\r\n".utf8)
        let (header, _) = MessageHeader.parse(message)
        guard let old = header.first("Subject"), let at = message.firstRange(of: old.raw) else { return field + message }
        return Array(message[..<at.lowerBound]) + field + message[at.upperBound...]
    }
}
