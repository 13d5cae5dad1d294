import Foundation
import Testing

/// Python's imaplib (a client nobody here wrote) against the server in this process.
@Suite("imaplib against the in-process server", .serialized)
struct ImaplibTests {
    func run(_ scenario: String, allowPlaintext: Bool = true) async throws {
        let server = try await TestServer.start(allowPlaintext: allowPlaintext)
        defer { server.remove() }
        let (status, output) = try await server.python("imaplib_scenarios.py", [scenario])
        #expect(status == 0, "\(scenario): \(output)")
    }

    @Test func basicCommands() async throws { try await run("basic") }
    @Test func twoSessionsSeeEachOther() async throws { try await run("two_sessions") }
    @Test func idlePushesNewMail() async throws { try await run("idle") }
    @Test func condstoreAndQresync() async throws { try await run("condstore") }
    @Test func authenticateMechanisms() async throws { try await run("auth") }
    @Test func tlsAndLoginDisabled() async throws { try await run("tls", allowPlaintext: false) }
    @Test func wireLevelProtocol() async throws { try await run("raw_protocol") }
}
