import Foundation
import Sieve
import Testing

/// The first check of the pipeline lexer → parser → compiler → interpreter; the table of RFC
/// cases is in SieveTableTests.
@Suite("Sieve: end to end")
struct SieveSmokeTests {
    static let message = "From: Alice <alice@example.org>\r\nTo: bob@example.test\r\nSubject: [lists] hello\r\n\r\nbody\r\n"

    @Test func fileintoWithMatchVariable() throws {
        let script = try SieveScript(parsing: """
            require ["fileinto", "variables"];
            if header :matches "Subject" "[*] *" { fileinto "Lists/${1}"; stop; }
            keep;
            """)
        let outcome = script.run(SieveContext(message: Array(Self.message.utf8), envelopeFrom: "alice@example.org",
                                              envelopeTo: "bob@example.test", userAddresses: ["bob@example.test"]))
        #expect(outcome.error == nil)
        #expect(outcome.actions == [.fileinto(mailbox: "Lists/lists", flags: [], create: false)])
    }

    @Test func errorsNameTheirPosition() {
        #expect(throws: SieveError(line: 2, column: 1, message: "fileinto needs require \"fileinto\"")) {
            try SieveScript(parsing: "# no require\nfileinto \"x\";\n")
        }
    }

    /// RFC 5230 §4.2: the handle comes from the command's arguments, so a sender writing twice
    /// with different subjects is answered once (the "Auto: <subject>" differs, the handle not).
    @Test func vacationHandleDoesNotDependOnTheSubject() throws {
        let script = try SieveScript(parsing: "require \"vacation\"; vacation \"away\";")
        func handle(_ subject: String) -> String? {
            let message = Array("From: a@example.org\r\nTo: bob@example.test\r\nSubject: \(subject)\r\n\r\nx\r\n".utf8)
            let outcome = script.run(SieveContext(message: message, envelopeFrom: "a@example.org", envelopeTo: "bob@example.test",
                                                  userAddresses: ["bob@example.test"]))
            for case .vacation(let reply) in outcome.actions { return reply.handle }
            return nil
        }
        #expect(handle("one") != nil && handle("one") == handle("two"))
    }

    /// RFC 5228 §2.10.6 lets an implementation bound redirects: a fifth is a run-time error,
    /// and the message is then only kept (nothing is sent on).
    @Test func aFifthRedirectFailsTheRun() throws {
        let four = (1...4).map { "redirect \"r\($0)@example.org\";" }.joined(separator: "\n")
        let context = SieveContext(message: Array(Self.message.utf8), envelopeFrom: "alice@example.org",
                                   envelopeTo: "bob@example.test", userAddresses: ["bob@example.test"])
        #expect(try SieveScript(parsing: four).run(context).actions.count == 4)
        let five = try SieveScript(parsing: four + "\nredirect \"r5@example.org\";").run(context)
        #expect(five.error != nil && five.actions == [.keep(flags: [])])
    }
}
