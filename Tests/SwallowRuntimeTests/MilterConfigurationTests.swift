import Foundation
import SwallowRuntime
import Testing

/// `[[filters.milter]]`: a TOML array of tables, one milter each, in order.
@Suite("milter configuration")
struct MilterConfigurationTests {
    @Test func milterListParses() throws {
        let config = try SwallowConfiguration.parse("""
            [filters.clamav]
            address = "127.0.0.1:3310"

            [[filters.milter]]
            address = "127.0.0.1:11332"
            default_action = "accept"

            [[filters.milter]]
            address = "unix:/run/opendkim/opendkim.sock"
            timeout = 10
            """, path: "f.toml")
        let milters = config.filters.milters
        #expect(milters.map(\.address.description) == ["127.0.0.1:11332", "unix:/run/opendkim/opendkim.sock"])
        #expect(milters.map(\.defaultAction.rawValue) == ["accept", "tempfail"], "tempfail by default, as Postfix")
        #expect(milters.map(\.timeout) == [.seconds(30), .seconds(10)])
        #expect(!config.filters.isEmpty && config.filters.antivirus != nil)
        #expect(try SwallowConfiguration.parse("", path: "f.toml").filters.milters.isEmpty)
    }

    @Test(arguments: [
        ("[[filters.milter]]\ntimeout = 5", "f.toml: filters.milter[0].address: is required"),
        ("[[filters.milter]]\naddress = \"nowhere\"", "f.toml: filters.milter[0].address: 'nowhere' is not host:port or unix:/path"),
        ("[[filters.milter]]\naddress = \"127.0.0.1:1\"\n[[filters.milter]]\naddress = \"127.0.0.1:2\"\ndefault_action = \"reject\"",
         "f.toml: filters.milter[1].default_action: 'reject' is not one of: tempfail, accept"),
        ("[[filters.milter]]\naddress = \"127.0.0.1:1\"\ntimeout = 0", "f.toml: filters.milter[0].timeout: must be a positive whole number"),
        ("[[filters.milter]]\naddress = \"127.0.0.1:1\"\non_failure = \"accept\"", "f.toml: filters.milter[0].on_failure: unknown key"),
        ("[filters.milter]\naddress = \"127.0.0.1:1\"", "f.toml: filters.milter: must be a list of tables"),
    ])
    func mistakes(text: String, expected: String) {
        do {
            _ = try SwallowConfiguration.parse(text, path: "f.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        }
    }
}
