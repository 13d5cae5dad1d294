import Foundation
@testable import Admin
import Testing

@Suite("Admin listener")
struct AdminTests {
    /// The document served at /api/openapi.json is the one committed for readers and tools.
    @Test func servedOpenAPIDocumentIsTheCommittedOne() throws {
        let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/openapi.json").standardizedFileURL
        #expect(try String(contentsOf: committed, encoding: .utf8) == OpenAPIDocument.text)
        let json = try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any]
        #expect((json?["paths"] as? [String: Any])?.keys.contains("/api/users/{address}") == true)
    }

    @Test func sessionsExpireAndCarryTheirOwnCSRFToken() {
        let sessions = ConsoleSessions()
        let now = Date()
        let a = sessions.open("root", now: now), b = sessions.open("root", now: now)
        let sa = sessions.session(a, now: now), sb = sessions.session(b, now: now)
        #expect(sa?.admin == "root" && sa?.csrf != sb?.csrf)
        #expect(sessions.session(a, now: now.addingTimeInterval(ConsoleSessions.idleLifetime + 1)) == nil)
        sessions.close(b)
        #expect(sessions.session(b, now: now) == nil)
        #expect(sessions.session("forged", now: now) == nil)
    }

    @Test func failedLoginsAreLimitedPerClientAndForgotten() {
        let sessions = ConsoleSessions()
        let now = Date()
        for _ in 0..<ConsoleSessions.maxFailures { #expect(sessions.mayTryLogin("192.0.2.1", now: now)); sessions.loginFailed("192.0.2.1", now: now) }
        #expect(!sessions.mayTryLogin("192.0.2.1", now: now))
        #expect(sessions.mayTryLogin("192.0.2.2", now: now))
        #expect(sessions.mayTryLogin("192.0.2.1", now: now.addingTimeInterval(ConsoleSessions.failureWindow + 1)))
    }

    @Test func formsAndHTMLEscaping() {
        #expect(Console.parseForm("address=a%40b.test&password=x+y%26z&csrf=") == ["address": "a@b.test", "password": "x y&z", "csrf": ""])
        #expect(html("<script>\"x\"&'y'</script>") == "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;")
        #expect(ConstantTimeText.equal("abc", "abc") && !ConstantTimeText.equal("abc", "abd") && !ConstantTimeText.equal("abc", "ab"))
    }

    @Test func byteSizes() throws {
        #expect(try ByteSize.parse("2G") == 2 << 30)
        #expect(try ByteSize.parse("500m") == 500 << 20)
        #expect(try ByteSize.parse("1024") == 1024)
        #expect(throws: AdminError.self) { try ByteSize.parse("lots") }
        #expect(ByteSize.format(1536) == "1.5 KiB")
    }

    @Test func adminNames() {
        #expect(AdminAccounts.isValidName("root") && AdminAccounts.isValidName("ops@example.test"))
        #expect(!AdminAccounts.isValidName("") && !AdminAccounts.isValidName("a b") && !AdminAccounts.isValidName(String(repeating: "a", count: 65)))
    }
}
