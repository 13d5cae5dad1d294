import Testing
@testable import IMAPProtocol

/// CAPABILITY, NOOP, LOGOUT, STARTTLS, AUTHENTICATE, LOGIN, ENABLE, ID, IDLE (RFC 9051 §6.1-§6.3).
@Suite struct ConnectionCommandTests {
    static let fixtures: [Fixture] = [
        Fixture("a001 CAPABILITY\r\n", .capability),
        Fixture("a002 NOOP\r\n", .noop),
        Fixture("A023 LOGOUT\r\n", .logout),
        Fixture("a3 STARTTLS\r\n", .startTLS),
        Fixture("1 capability\r\n", .capability), // Thunderbird writes commands in lower case
        Fixture("a4 noop\n", .noop), // bare LF is tolerated
        Fixture("a001 LOGIN SMITH SESAME\r\n", .login(username: "SMITH", password: "SESAME")),
        // imaplib quotes when needed; escapes per RFC 9051 §4.3.
        Fixture("ABCD1 LOGIN alice \"pass word\\\"\\\\x\"\r\n", .login(username: "alice", password: "pass word\"\\x")),
        Fixture("a0000 LOGIN \"alice@example.org\" \"s3cr3t\"\r\n", .login(username: "alice@example.org", password: "s3cr3t")),
        // UTF-8 password in a quoted string (IMAP4rev2).
        Fixture("a LOGIN \"j\u{00F6}rg\" \"p\u{00E4}ss\"\r\n", .login(username: "j\u{00F6}rg", password: "p\u{00E4}ss")),
        Fixture("x LOGIN {5}\r\nalice {6}\r\nsecret\r\n",
                [.needContinuation(literalSize: 5), .needContinuation(literalSize: 6),
                 cmd("x", .login(username: "alice", password: "secret"))]),
        Fixture("x LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n", [cmd("x", .login(username: "alice", password: "secret"))]),
        // A literal may hold bytes that look like a command; they are data.
        Fixture("x LOGIN {8+}\r\nb NOOP\r\n secret\r\n", [cmd("x", .login(username: "b NOOP\r\n", password: "secret"))]),
        Fixture("a AUTHENTICATE PLAIN\r\n", .authenticate(mechanism: "PLAIN", initialResponse: nil)),
        Fixture("a AUTHENTICATE plain AGFsaWNlAHNlY3JldA==\r\n",
                .authenticate(mechanism: "PLAIN", initialResponse: [0] + bytes("alice") + [0] + bytes("secret"))),
        Fixture("a AUTHENTICATE EXTERNAL =\r\n", .authenticate(mechanism: "EXTERNAL", initialResponse: [])),
        Fixture("a AUTHENTICATE SCRAM-SHA-256\r\n", .authenticate(mechanism: "SCRAM-SHA-256", initialResponse: nil)),
        Fixture("a ENABLE QRESYNC CONDSTORE\r\n", .enable(["QRESYNC", "CONDSTORE"])),
        Fixture("t1 ENABLE utf8=accept\r\n", .enable(["UTF8=ACCEPT"])),
        Fixture("2 ID (\"name\" \"Thunderbird\" \"version\" \"115.3.1\")\r\n",
                .id([IDParameter(key: "name", value: "Thunderbird"), IDParameter(key: "version", value: "115.3.1")])),
        Fixture("1 ID (\"name\" \"Mac OS X Mail\" \"version\" \"16.0 (3731.500.231)\" \"os\" \"Mac OS X\" \"os-version\" \"13.4 (22F66)\" \"vendor\" \"Apple Inc.\")\r\n",
                .id([IDParameter(key: "name", value: "Mac OS X Mail"), IDParameter(key: "version", value: "16.0 (3731.500.231)"),
                     IDParameter(key: "os", value: "Mac OS X"), IDParameter(key: "os-version", value: "13.4 (22F66)"),
                     IDParameter(key: "vendor", value: "Apple Inc.")])),
        Fixture("a ID NIL\r\n", .id(nil)),
        Fixture("a ID ()\r\n", .id([])),
        Fixture("a ID (\"name\" NIL)\r\n", .id([IDParameter(key: "name", value: nil)])),
        Fixture("a023 IDLE\r\n", .idle),
    ]

    static let errors: [(String, String?, String)] = [
        // input, expected tag, part of the message
        ("a LOGIN alice\r\n", "a", "LOGIN: expected SP"),
        ("a NOOP extra\r\n", "a", "after NOOP"),
        ("a AUTHENTICATE PLAIN ***\r\n", "a", "not valid base64"),
        ("a AUTHENTICATE PLAIN AGFsaWNl=\r\n", "a", "not valid base64"),
        ("a ENABLE\r\n", "a", "expected SP"),
        ("a ID (\"name\")\r\n", "a", "expected SP"),
        ("a ID\r\n", "a", "expected SP"),
        ("a LOGIN \"unterminated\r\n", "a", "unterminated quoted string"),
        ("a LOGIN \"bad\\escape\" x\r\n", "a", "invalid escape"),
        ("a LOGIN {3+}\r\na\u{0}b x\r\n", "a", "NUL"),
        ("a FROBNICATE\r\n", "a", "Unknown command FROBNICATE"),
        ("a UID FROB 1\r\n", "a", "Unknown UID command"),
        ("a UID\r\n", "a", "UID: missing command"),
        ("\r\n", nil, "Empty command line"),
        ("+tag NOOP\r\n", nil, "invalid tag"),
        ("a(b NOOP\r\n", nil, "Invalid character in tag"),
        ("a\r\n", "a", "Missing command"),
        ("a \r\n", "a", "Missing command"),
    ]

    @Test(arguments: fixtures) func parses(_ f: Fixture) { check(f) }

    @Test(arguments: errors) func rejects(_ e: (String, String?, String)) {
        let results = Driver.run(bytes(e.0 + "z NOOP\r\n"))
        #expect(results.count == 2)
        guard case .error(let tag, let message) = results.first else {
            Issue.record("expected an error, got \(results)")
            return
        }
        #expect(tag == e.1)
        #expect(message.lowercased().contains(e.2.lowercased()), "\(message)")
        // Resynchronised: the next command parses.
        #expect(results.last == cmd("z", .noop))
    }

    @Test func commandNames() {
        #expect(IMAPCommand.fetch(.all, attributes: [], modifiers: [], uid: true).name == "UID FETCH")
        #expect(IMAPCommand.startTLS.name == "STARTTLS")
    }

    @Test func startTLSLeavesPipelinedBytesUnconsumed() {
        var p = IMAPCommandParser()
        let input = bytes("a STARTTLS\r\nb LOGIN x y\r\n")
        let (result, consumed) = p.parse(input)
        #expect(result == cmd("a", .startTLS))
        #expect(consumed == 12)
        #expect(!p.hasPartialCommand)
    }
}
