import Testing
@testable import IMAPProtocol

/// SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, NAMESPACE,
/// STATUS, GETQUOTA, GETQUOTAROOT (RFC 9051 §6.3, RFC 5258, RFC 6154, RFC 7162, RFC 9208).
@Suite struct MailboxCommandTests {
    static let fixtures: [Fixture] = [
        Fixture("A142 SELECT INBOX\r\n", .select("INBOX", parameters: [])),
        Fixture("a SELECT \"Sent Items\"\r\n", .select("Sent Items", parameters: [])),
        Fixture("a SELECT Entw&APw-rfe\r\n", .select("Entw&APw-rfe", parameters: [])),
        Fixture("a SELECT \"Entw\u{00FC}rfe\"\r\n", .select("Entw\u{00FC}rfe", parameters: [])),
        Fixture("a SELECT {5+}\r\nINBOX\r\n", .select("INBOX", parameters: [])),
        Fixture("A932 EXAMINE blurdybloop\r\n", .examine("blurdybloop", parameters: [])),
        Fixture("a EXAMINE INBOX (CONDSTORE)\r\n", .examine("INBOX", parameters: [.condStore])),
        Fixture("t1 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
                .select("INBOX", parameters: [.qresync(QResyncParameters(
                    uidValidity: 67_890_007, modSeq: 20_050_715_194_045_000,
                    knownUIDs: SequenceSet([one(41), range(43, 211), range(214, 541)])))])),
        Fixture("B01 SELECT INBOX (QRESYNC (67890007 90060115194045000))\r\n",
                .select("INBOX", parameters: [.qresync(QResyncParameters(uidValidity: 67_890_007, modSeq: 90_060_115_194_045_000))])),
        Fixture("A03 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973)))\r\n",
                .select("INBOX", parameters: [.qresync(QResyncParameters(
                    uidValidity: 67_890_007, modSeq: 90_060_115_194_045_000,
                    knownUIDs: SequenceSet([range(1, 29997)]),
                    sequenceMatch: .init(knownSequenceSet: SequenceSet([one(5000), one(7500), one(9000), range(9990, 9999)]),
                                         knownUIDSet: SequenceSet([one(15000), one(22500), one(27000), one(29970), one(29973)]))))])),
        Fixture("a SELECT INBOX (CONDSTORE QRESYNC (1 2 (1:2 3:4)))\r\n",
                .select("INBOX", parameters: [.condStore, .qresync(QResyncParameters(
                    uidValidity: 1, modSeq: 2,
                    sequenceMatch: .init(knownSequenceSet: SequenceSet([range(1, 2)]), knownUIDSet: SequenceSet([range(3, 4)]))))])),
        Fixture("A003 CREATE owatagusiam/\r\n", .create("owatagusiam/", specialUse: [])),
        Fixture("t1 CREATE \"Important Messages\" (USE (\\Flagged))\r\n", .create("Important Messages", specialUse: [.flagged])),
        Fixture("t2 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n", .create("MySpecial", specialUse: [.drafts, .sent])),
        Fixture("A683 DELETE blurdybloop\r\n", .delete("blurdybloop")),
        Fixture("A683 RENAME blurdybloop sarasoop\r\n", .rename(from: "blurdybloop", to: "sarasoop")),
        Fixture("A684 RENAME \"Old Name\" {8+}\r\nNew Name\r\n", .rename(from: "Old Name", to: "New Name")),
        Fixture("A002 SUBSCRIBE #news.comp.mail.mime\r\n", .subscribe("#news.comp.mail.mime")),
        Fixture("A002 UNSUBSCRIBE #news.comp.mail.mime\r\n", .unsubscribe("#news.comp.mail.mime")),
        Fixture("A101 LIST \"\" \"\"\r\n", .list(ListCommand(reference: "", patterns: [""]))),
        Fixture("A202 LIST ~/Mail/ %\r\n", .list(ListCommand(reference: "~/Mail/", patterns: ["%"]))),
        Fixture("3 list \"\" \"*\"\r\n", .list(ListCommand(reference: "", patterns: ["*"]))),
        Fixture("A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n", .list(ListCommand(selectionOptions: [.subscribed], reference: "", patterns: ["*"]))),
        Fixture("A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n", .list(ListCommand(reference: "", patterns: ["%"], returnOptions: [.children]))),
        Fixture("A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"\r\n",
                .list(ListCommand(selectionOptions: [.remote, .subscribed], reference: "", patterns: ["*"]))),
        Fixture("A06 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n",
                .list(ListCommand(selectionOptions: [.subscribed, .recursiveMatch], reference: "", patterns: ["%"], returnOptions: [.children]))),
        Fixture("BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n", .list(ListCommand(reference: "", patterns: ["INBOX", "Drafts", "Sent/%"]))),
        Fixture("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n",
                .list(ListCommand(reference: "", patterns: ["%"], returnOptions: [.status([.messages, .unseen])]))),
        Fixture("t3 LIST (SPECIAL-USE) \"\" \"*\"\r\n", .list(ListCommand(selectionOptions: [.specialUse], reference: "", patterns: ["*"]))),
        Fixture("7 LIST \"\" \"*\" RETURN (CHILDREN SPECIAL-USE SUBSCRIBED)\r\n",
                .list(ListCommand(reference: "", patterns: ["*"], returnOptions: [.children, .specialUse, .subscribed]))),
        Fixture("a LIST \"\" INBOX]x\r\n", .list(ListCommand(reference: "", patterns: ["INBOX]x"]))),
        Fixture("A002 LSUB \"#news.\" \"comp.mail.*\"\r\n", .lsub(reference: "#news.", pattern: "comp.mail.*")),
        Fixture("a LSUB \"\" *\r\n", .lsub(reference: "", pattern: "*")),
        Fixture("A001 NAMESPACE\r\n", .namespace),
        Fixture("A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", .status("blurdybloop", items: [.uidNext, .messages])),
        Fixture("11 status \"INBOX\" (UIDNEXT MESSAGES UNSEEN RECENT HIGHESTMODSEQ)\r\n",
                .status("INBOX", items: [.uidNext, .messages, .unseen, .recent, .highestModSeq])),
        Fixture("a STATUS INBOX (SIZE DELETED APPENDLIMIT UIDVALIDITY)\r\n",
                .status("INBOX", items: [.size, .deleted, .appendLimit, .uidValidity])),
        Fixture("G1 GETQUOTA \"\"\r\n", .getQuota(root: "")),
        Fixture("A003 GETQUOTAROOT INBOX\r\n", .getQuotaRoot("INBOX")),
        Fixture("S1 SETQUOTA \"\" (STORAGE 512)\r\n", .setQuota(root: "", limits: [QuotaLimit(resource: "STORAGE", limit: 512)])),
        Fixture("S2 setquota bob@example.test (storage 1 MESSAGE 9223372036854775807)\r\n",
                .setQuota(root: "bob@example.test", limits: [QuotaLimit(resource: "STORAGE", limit: 1),
                                                            QuotaLimit(resource: "MESSAGE", limit: 9_223_372_036_854_775_807)])),
        Fixture("S3 SETQUOTA \"\" ()\r\n", .setQuota(root: "", limits: [])),
    ]

    static let errors: [(String, String)] = [
        ("a SELECT\r\n", "expected SP"),
        ("a SELECT INBOX (BOGUS)\r\n", "unknown SELECT parameter"),
        ("a SELECT INBOX (QRESYNC (0 1))\r\n", "UIDVALIDITY must not be 0"),
        ("a SELECT INBOX (QRESYNC (1 0))\r\n", "mod-sequence value must not be 0"),
        ("a SELECT INBOX (QRESYNC (1 9223372036854775808))\r\n", "too large"),
        ("a CREATE x (USE (Sent))\r\n", "special-use attribute"),
        ("a CREATE x (FOO)\r\n", "unknown CREATE parameter"),
        ("a LIST (RECURSIVEMATCH) \"\" \"*\"\r\n", "RECURSIVEMATCH requires"),
        ("a LIST (BOGUS) \"\" \"*\"\r\n", "unknown LIST selection option"),
        ("a LIST \"\" \"*\" RETURN (BOGUS)\r\n", "unknown LIST return option"),
        ("a LIST \"\" \"*\" (CHILDREN)\r\n", "\"RETURN\""),
        ("a LIST \"\"\r\n", "expected SP"),
        ("a STATUS INBOX (BOGUS)\r\n", "unknown status item"),
        ("a STATUS INBOX ()\r\n", "expected status item"),
        ("a STATUS INBOX MESSAGES\r\n", "\"(\" of status items"),
        ("a RENAME a\r\n", "expected SP"),
        ("a SETQUOTA \"\" STORAGE 5\r\n", "\"(\" of the resource list"),
        ("a SETQUOTA \"\" (STORAGE)\r\n", "expected SP"),
        ("a SETQUOTA \"\" (STORAGE 9223372036854775808)\r\n", "too large"),
        ("a SETQUOTA \"\" (STORAGE 5\r\n", "\")\" of the resource list"),
        ("a SELECT (x)\r\n", "expected mailbox name"),
        ("a SELECT INBOX {5}\r\n", "SELECT"), // rejected before "+", see below
    ]

    @Test(arguments: fixtures) func parses(_ f: Fixture) { check(f) }

    @Test(arguments: errors) func rejects(_ e: (String, String)) {
        let results = Driver.run(bytes(e.0 + "z NOOP\r\n"))
        guard case .error(let tag, let message) = results.first else {
            Issue.record("expected an error, got \(results)")
            return
        }
        #expect(tag == "a")
        #expect(message.lowercased().contains(e.1.lowercased()), "\(message)")
        #expect(results.last == cmd("z", .noop))
        #expect(results.count == 2)
    }

    @Test func inboxHelpers() {
        #expect(IMAPMailboxName("inBox").isInbox)
        #expect(!IMAPMailboxName("INBOX2").isInbox)
        #expect(IMAPMailboxName("inbox").normalizingInbox() == "INBOX")
        #expect(IMAPMailboxName("Inbox/Sub").normalizingInbox(delimiter: UInt8(ascii: "/")) == "INBOX/Sub")
        #expect(IMAPMailboxName("Inbox/Sub").normalizingInbox() == "Inbox/Sub")
        #expect(IMAPMailboxName("Inboxes").normalizingInbox(delimiter: UInt8(ascii: "/")) == "Inboxes")
        #expect(IMAPMailboxName([0xFF]).stringValue == nil)
        #expect(IMAPMailboxName("Entw\u{00FC}rfe").stringValue == "Entw\u{00FC}rfe")
    }
}
