import Testing
@testable import IMAPProtocol

/// Tagged and untagged status responses, response codes and continuations (RFC 9051 §7.1, §7.5).
@Suite struct StatusResponseTests {
    @Test func tagged() {
        #expect(wire(.ok("a001", nil, "LOGIN completed")) == "a001 OK LOGIN completed\r\n")
        #expect(wire(.no("A222", .tryCreate, "COPY failed: no such mailbox")) == "A222 NO [TRYCREATE] COPY failed: no such mailbox\r\n")
        #expect(wire(.bad("x", nil, "Unknown command")) == "x BAD Unknown command\r\n")
        #expect(wire(.tagged(tag: "A142", status: .ok, code: .readWrite, text: "SELECT completed")) == "A142 OK [READ-WRITE] SELECT completed\r\n")
        // Empty text would be invalid for IMAP4rev1 clients.
        #expect(wire(.ok("a", nil, "")) == "a OK Completed\r\n")
        #expect(wire(.no("a", .overQuota, "")) == "a NO [OVERQUOTA] Failed\r\n")
    }

    @Test func untagged() {
        #expect(wire(.condition(.ok, code: .unseen(17), text: "Message 17 is the first unseen message")) == "* OK [UNSEEN 17] Message 17 is the first unseen message\r\n")
        #expect(wire(.condition(.ok, code: .permanentFlags([.deleted, .seen, .wildcard]), text: "Limited")) == "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n")
        #expect(wire(.condition(.bye, text: "IMAP4rev2 Server logging out")) == "* BYE IMAP4rev2 Server logging out\r\n")
        #expect(wire(.condition(.preauth, text: "IMAP4rev2 server logged in as Smith")) == "* PREAUTH IMAP4rev2 server logged in as Smith\r\n")
        #expect(wire(.condition(.no, text: "Disk is 98% full, please delete unnecessary data")) == "* NO Disk is 98% full, please delete unnecessary data\r\n")
        #expect(wire(.condition(.bad, text: "Command line too long")) == "* BAD Command line too long\r\n")
        #expect(wire(.condition(.ok, code: .capability(["IMAP4rev1", "IMAP4rev2", "LITERAL+", "AUTH=PLAIN"]), text: "Swallow ready"))
            == "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ AUTH=PLAIN] Swallow ready\r\n")
    }

    @Test func textCannotInjectLines() {
        #expect(wire(.no("a", nil, "bad\r\n* OK [ALERT] pwned\u{0}")) == "a NO bad  * OK [ALERT] pwned \r\n")
        #expect(wire(.continuation("go\nahead")) == "+ go ahead\r\n")
        #expect(wire(.no("a", .other("X-FOO", "a]b\r\nc"), "t")) == "a NO [X-FOO a b  c] t\r\n")
    }

    @Test func continuations() {
        #expect(wire(.continuation("Ready for literal data")) == "+ Ready for literal data\r\n")
        #expect(wire(.continuation("idling")) == "+ idling\r\n")
        #expect(wire(.continuationData([])) == "+ \r\n")
        #expect(wire(.continuationData(bytes("<1896.697170952@postoffice.example.net>"))) == "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n")
    }

    static let codes: [(IMAPResponseCode, String)] = [
        (.alert, "ALERT"),
        (.alreadyExists, "ALREADYEXISTS"),
        (.appendUID(uidValidity: 38505, uids: SequenceSet([.single(3955)])), "APPENDUID 38505 3955"),
        (.appendUID(uidValidity: 38505, uids: SequenceSet(numbers: [3955, 3956, 3957, 3960])), "APPENDUID 38505 3955:3957,3960"),
        (.authenticationFailed, "AUTHENTICATIONFAILED"),
        (.authorizationFailed, "AUTHORIZATIONFAILED"),
        (.badCharset([]), "BADCHARSET"),
        (.badCharset(["UTF-8", "US-ASCII"]), "BADCHARSET (UTF-8 US-ASCII)"),
        (.cannot, "CANNOT"),
        (.capability(["IMAP4rev2"]), "CAPABILITY IMAP4rev2"),
        (.clientBug, "CLIENTBUG"),
        (.closed, "CLOSED"),
        (.contactAdmin, "CONTACTADMIN"),
        (.copyUID(uidValidity: 38505, source: SequenceSet(numbers: [304, 319, 320]), destination: SequenceSet(numbers: [3956, 3957, 3958])),
         "COPYUID 38505 304,319:320 3956:3958"),
        (.corruption, "CORRUPTION"),
        (.expired, "EXPIRED"),
        (.expungeIssued, "EXPUNGEISSUED"),
        (.hasChildren, "HASCHILDREN"),
        (.highestModSeq(715_194_045_007), "HIGHESTMODSEQ 715194045007"),
        (.inUse, "INUSE"),
        (.limit, "LIMIT"),
        (.modified(SequenceSet(numbers: [7, 9])), "MODIFIED 7,9"),
        (.noModSeq, "NOMODSEQ"),
        (.noPerm, "NOPERM"),
        (.nonExistent, "NONEXISTENT"),
        (.notSaved, "NOTSAVED"),
        (.overQuota, "OVERQUOTA"),
        (.parse, "PARSE"),
        (.permanentFlags([]), "PERMANENTFLAGS ()"),
        (.privacyRequired, "PRIVACYREQUIRED"),
        (.readOnly, "READ-ONLY"),
        (.readWrite, "READ-WRITE"),
        (.serverBug, "SERVERBUG"),
        (.tooBig, "TOOBIG"),
        (.tryCreate, "TRYCREATE"),
        (.uidNext(4392), "UIDNEXT 4392"),
        (.uidNotSticky, "UIDNOTSTICKY"),
        (.uidValidity(3_857_529_045), "UIDVALIDITY 3857529045"),
        (.unavailable, "UNAVAILABLE"),
        (.unknownCTE, "UNKNOWN-CTE"),
        (.unseen(12), "UNSEEN 12"),
        (.other("X-SWALLOW", nil), "X-SWALLOW"),
        (.other("X-SWALLOW", "some text"), "X-SWALLOW some text"),
    ]

    @Test(arguments: codes) func responseCode(_ c: (IMAPResponseCode, String)) {
        #expect(wire(.ok("t", c.0, "done")) == "t OK [\(c.1)] done\r\n")
    }
}
