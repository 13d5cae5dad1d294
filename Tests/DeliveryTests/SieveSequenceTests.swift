@testable import Delivery
import Sieve
import Testing

/// The global script (`[sieve] before`) and the user's run as one sequence (as Pigeonhole's
/// sieve_before): one implicit keep, cancelled by either; `stop` in the first ends it.
@Suite("Sieve: the global script before the user's")
struct SieveSequenceTests {
    static let spam = Array("X-Spam-Status: Yes\r\nSubject: win\r\nTo: bob@example.test\r\n\r\nx\r\n".utf8)
    static let ham = Array("Subject: lunch\r\nTo: bob@example.test\r\n\r\nx\r\n".utf8)
    static let global = """
        require "fileinto";
        if header :is "X-Spam-Status" "Yes" { fileinto "Junk"; }
        """

    func run(_ source: String, _ message: [UInt8]) throws -> SieveOutcome {
        try SieveScript(parsing: source).run(SieveContext(message: message, envelopeFrom: "a@example.org",
                                                           envelopeTo: "bob@example.test", userAddresses: ["bob@example.test"]))
    }

    @Test func globalFilingCancelsTheImplicitKeep() throws {
        let user = "require \"fileinto\"; if header :contains \"Subject\" \"lunch\" { fileinto \"Food\"; }"
        let spam = SieveFiltering.sequence(try run(Self.global, Self.spam), try run(user, Self.spam))
        #expect(spam.actions == [.fileinto(mailbox: "Junk", flags: [], create: false)])
        let ham = SieveFiltering.sequence(try run(Self.global, Self.ham), try run(user, Self.ham))
        #expect(ham.actions == [.fileinto(mailbox: "Food", flags: [], create: false)])
        let neither = SieveFiltering.sequence(try run(Self.global, Self.ham), try run("", Self.ham))
        #expect(neither.actions == [.keep(flags: [])])
        // An explicit keep in the user's script still keeps a copy in INBOX.
        let both = SieveFiltering.sequence(try run(Self.global, Self.spam), try run("keep;", Self.spam))
        #expect(both.actions == [.fileinto(mailbox: "Junk", flags: [], create: false), .keep(flags: [])])
    }

    @Test func stopInTheGlobalScriptIsReported() throws {
        let outcome = try run("require \"fileinto\"; fileinto \"Junk\"; stop;", Self.spam)
        #expect(outcome.stopped && !outcome.implicitKeep)
        #expect(!(try run("keep;", Self.spam)).stopped)
    }
}

@Suite("Sieve: what delivery does with the actions")
struct SieveFilteringHelperTests {
    /// A redirect back to an account the message already passed is a loop: kept instead.
    @Test func redirectLoopsAreSeenInDeliveredTo() {
        let message = Array("Return-Path: <a@example.org>\r\nDelivered-To: Bob@Example.test\r\nSubject: x\r\n\r\nDelivered-To: carol@example.test\r\n".utf8)
        #expect(SieveFiltering.passedThrough(message, "bob@example.test"))
        // Only the header counts, not a line in the body.
        #expect(!SieveFiltering.passedThrough(message, "carol@example.test"))
    }

    /// RFC 5232 flags become the store's: system flags by name, atoms as keywords, the rest dropped.
    @Test func flagsAsTheStoreKeepsThem() {
        let flags = SieveFiltering.flags(["\\Seen", "\\flagged", "$Label1", "bad flag", "(x)", "\\Unknown"])
        #expect(flags.system == [.seen, .flagged])
        #expect(flags.keywords == ["$Label1"])
    }
}

@Suite("Sieve: the vacation reply")
struct VacationMessageTests {
    /// A script's :from or :subject holding a line end cannot add header fields to the reply.
    @Test func scriptStringsCannotInjectHeaderFields() {
        let reply = SieveVacation(recipient: "a@example.org", from: "me@example.test\r\nBcc: victim@example.org",
                                  subject: "Away\r\nX-Injected: yes", reason: "Back soon.", mime: false, handle: "h",
                                  period: 86400, inReplyTo: "<m1@example.org>")
        let text = String(decoding: VacationMessage.make(reply, user: "me@example.test", hostname: "mx.example.test"), as: UTF8.self)
        let header = text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        #expect(!header.contains { $0.hasPrefix("Bcc:") || $0.hasPrefix("X-Injected:") }, "\(header)")
        #expect(header.contains("Auto-Submitted: auto-replied"))
        #expect(header.contains("In-Reply-To: <m1@example.org>"))
        #expect(text.hasSuffix("\r\n\r\nBack soon.\r\n"))
    }
}
