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
}
