import Testing
@testable import IMAPProtocol

/// CAPABILITY, ENABLED, ID, FLAGS, LIST, LSUB, STATUS, NAMESPACE, QUOTA, QUOTAROOT responses
/// (RFC 9051 §7.2-§7.3, RFC 5258, RFC 2971, RFC 9208).
@Suite struct MailboxResponseTests {
    @Test func capabilityEnabledID() {
        #expect(wire(.capability(["IMAP4rev2", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED"])) == "* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n")
        #expect(wire(.capability([])) == "* CAPABILITY\r\n")
        #expect(wire(.enabled(["CONDSTORE", "QRESYNC"])) == "* ENABLED CONDSTORE QRESYNC\r\n")
        #expect(wire(.enabled([])) == "* ENABLED\r\n")
        #expect(wire(.id([IDParameter(key: "name", value: "Swallow"), IDParameter(key: "support-url", value: nil)])) == "* ID (\"name\" \"Swallow\" \"support-url\" NIL)\r\n")
        #expect(wire(.id(nil)) == "* ID NIL\r\n")
        #expect(wire(.id([])) == "* ID NIL\r\n")
    }

    @Test func flags() {
        #expect(wire(.flags([.answered, .flagged, .deleted, .seen, .draft])) == "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n")
        #expect(wire(.flags([.seen, .recent, .forwarded, .keyword("NonJunk")])) == "* FLAGS (\\Seen \\Recent $Forwarded NonJunk)\r\n")
        #expect(wire(.flags([])) == "* FLAGS ()\r\n")
    }

    @Test func list() {
        #expect(wire(.list(ListResponse(attributes: [.hasNoChildren], mailbox: "INBOX"))) == "* LIST (\\HasNoChildren) \"/\" INBOX\r\n")
        #expect(wire(.list(ListResponse(attributes: [.noSelect], delimiter: nil, mailbox: "foo"))) == "* LIST (\\Noselect) NIL foo\r\n")
        #expect(wire(.list(ListResponse(attributes: [], delimiter: UInt8(ascii: "."), mailbox: "#news.comp.mail.misc"))) == "* LIST () \".\" #news.comp.mail.misc\r\n")
        #expect(wire(.list(ListResponse(attributes: [.sent, .hasNoChildren], mailbox: "Sent Items"))) == "* LIST (\\Sent \\HasNoChildren) \"/\" \"Sent Items\"\r\n")
        #expect(wire(.list(ListResponse(attributes: [], delimiter: UInt8(ascii: "\\"), mailbox: "a\"b"))) == "* LIST () \"\\\\\" \"a\\\"b\"\r\n")
        #expect(wire(.list(ListResponse(attributes: [], mailbox: ""))) == "* LIST () \"/\" \"\"\r\n")
        #expect(wire(.list(ListResponse(attributes: [], mailbox: "NIL"))) == "* LIST () \"/\" \"NIL\"\r\n")
        #expect(wire(.list(ListResponse(attributes: [], mailbox: "50%"))) == "* LIST () \"/\" \"50%\"\r\n")
        // Modified UTF-7 names are ASCII atoms (the caller converted them).
        #expect(wire(.list(ListResponse(attributes: [.drafts], mailbox: "Entw&APw-rfe"))) == "* LIST (\\Drafts) \"/\" Entw&APw-rfe\r\n")
        // UTF-8 names: quoted under IMAP4rev2, a literal for an IMAP4rev1 client that did not enable UTF8=ACCEPT.
        #expect(wire(.list(ListResponse(attributes: [], mailbox: "Entw\u{00FC}rfe")), utf8: true) == "* LIST () \"/\" \"Entw\u{00FC}rfe\"\r\n")
        #expect(wire(.list(ListResponse(attributes: [], mailbox: "Entw\u{00FC}rfe"))) == "* LIST () \"/\" {9}\r\nEntw\u{00FC}rfe\r\n")
    }

    @Test func listExtended() {
        // RFC 5258 §5 example 6.
        #expect(wire(.list(ListResponse(attributes: [], mailbox: "Foo", extended: [.childInfo(["SUBSCRIBED"])])))
            == "* LIST () \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n")
        #expect(wire(.list(ListResponse(attributes: [.subscribed, .nonExistent], mailbox: "Foo/Bar"))) == "* LIST (\\Subscribed \\NonExistent) \"/\" Foo/Bar\r\n")
        #expect(wire(.list(ListResponse(attributes: [], mailbox: "NewName", extended: [.oldName("OldName")])))
            == "* LIST () \"/\" NewName (\"OLDNAME\" (OldName))\r\n")
        #expect(wire(.lsub(ListResponse(attributes: [], delimiter: UInt8(ascii: "."), mailbox: "#news.comp.mail.mime"))) == "* LSUB () \".\" #news.comp.mail.mime\r\n")
    }

    @Test func status() {
        #expect(wire(.status("blurdybloop", [StatusItem(.messages, 231), StatusItem(.uidNext, 44292)])) == "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n")
        #expect(wire(.status("Sent Items", [StatusItem(.highestModSeq, 7_011_231_777), StatusItem(.size, 1 << 40), StatusItem(.appendLimit, 67_108_864)]))
            == "* STATUS \"Sent Items\" (HIGHESTMODSEQ 7011231777 SIZE 1099511627776 APPENDLIMIT 67108864)\r\n")
        #expect(wire(.status("INBOX", [])) == "* STATUS INBOX ()\r\n")
    }

    @Test func namespace() {
        #expect(wire(.namespace(personal: [NamespaceDescription(prefix: "")], other: nil, shared: nil)) == "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")
        #expect(wire(.namespace(personal: [NamespaceDescription(prefix: "INBOX.", delimiter: UInt8(ascii: "."))],
                                other: [NamespaceDescription(prefix: "~", delimiter: UInt8(ascii: "/"))],
                                shared: [NamespaceDescription(prefix: "#shared/"), NamespaceDescription(prefix: "#public", delimiter: nil)]))
            == "* NAMESPACE ((\"INBOX.\" \".\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public\" NIL))\r\n")
    }

    @Test func quota() {
        #expect(wire(.quota(root: "", resources: [QuotaResource(name: "STORAGE", usage: 10, limit: 512)])) == "* QUOTA \"\" (STORAGE 10 512)\r\n")
        #expect(wire(.quota(root: "user.alice", resources: [QuotaResource(name: "STORAGE", usage: 10, limit: 512), QuotaResource(name: "MESSAGE", usage: 3, limit: 1000)]))
            == "* QUOTA user.alice (STORAGE 10 512 MESSAGE 3 1000)\r\n")
        #expect(wire(.quotaRoot("INBOX", roots: [""])) == "* QUOTAROOT INBOX \"\"\r\n")
        #expect(wire(.quotaRoot("comp.mail.mime", roots: [])) == "* QUOTAROOT comp.mail.mime\r\n")
    }
}
