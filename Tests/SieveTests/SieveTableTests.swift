import Foundation
import Sieve
import Testing

// Table tests for the Sieve interpreter: RFC 5228 (base language) and the extensions the module
// announces in `SieveScript.extensions`. Each case is a script, a message and an envelope; the
// expectation is the exact list of actions `run` returns: script order, duplicates of
// keep/fileinto to the same mailbox performed once (RFC 5228 §2.10.3), implicit keep last.
//
// Scripts are written with "\n" in this file and handed to the parser with CRLF line ends, the
// only line end RFC 5228 §8.1 allows (so multi-line `text:` strings carry CRLF, §2.4.2).
// Messages are CRLF throughout, as stored.
//
// Also here: runtime errors (RFC 5228 §2.10.6), the vacation handle, the capability list, and
// the seeded fuzzing of scripts and messages. Parse errors are in SieveParseErrorTests.swift.

// MARK: - Shared helpers

enum SieveTestSupport {
    /// Delivery time for every case: Friday 2024-03-15 13:45:30 UTC.
    static let now = Date(timeIntervalSince1970: 1_710_510_330)

    /// The script with every line end made CRLF (RFC 5228 §8.1).
    static func crlf(_ source: String) -> String {
        source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
    }

    /// `SieveScript(parsing:)` as a value, so tests can switch on it.
    static func parse(_ source: String) -> Result<SieveScript, SieveError> {
        do throws(SieveError) {
            return .success(try SieveScript(parsing: source))
        } catch {
            return .failure(error)
        }
    }

    static func context(
        message: String, envelopeFrom: String = "bob@example.org", envelopeTo: String = "alice@example.com",
        userAddresses: [String] = ["alice@example.com"], now: Date = SieveTestSupport.now, localOffset: Int = 0,
        existingMailboxes: [String]? = nil
    ) -> SieveContext {
        let existing = existingMailboxes.map(Set.init)
        return SieveContext(
            message: Array(message.utf8), envelopeFrom: envelopeFrom, envelopeTo: envelopeTo,
            userAddresses: userAddresses, now: now, localOffset: localOffset,
            mailboxExists: { name in existing?.contains(name) ?? true })
    }
}

/// Action shorthands.
enum Act {
    /// The implicit keep (or an explicit `keep`) without flags.
    static let keep = SieveAction.keep(flags: [])
    static func kept(_ flags: [String]) -> SieveAction { .keep(flags: flags) }
    static func file(_ mailbox: String, _ flags: [String] = [], create: Bool = false) -> SieveAction {
        .fileinto(mailbox: mailbox, flags: flags, create: create)
    }
    static func redirect(_ address: String) -> SieveAction { .redirect(address: address) }
    static func reject(_ reason: String) -> SieveAction { .reject(reason: reason, ereject: false) }
    static func ereject(_ reason: String) -> SieveAction { .reject(reason: reason, ereject: true) }
    /// A vacation reply to the basic message: to its envelope sender, "Auto: " + its subject,
    /// 7 days, In-Reply-To its Message-ID.
    static func vacation(
        _ reason: String, subject: String = "Auto: Hello world", handle: String = "h", period: Int = 7 * 86400,
        from: String? = nil, mime: Bool = false, recipient: String = "bob@example.org",
        inReplyTo: String? = "<m1@example.org>"
    ) -> SieveAction {
        .vacation(SieveVacation(
            recipient: recipient, from: from, subject: subject, reason: reason, mime: mime, handle: handle,
            period: period, inReplyTo: inReplyTo))
    }
}

// MARK: - Messages

enum Fixture {
    static func build(_ headers: [String], body: [String]?) -> String {
        guard let body else { return headers.joined(separator: "\r\n") + "\r\n" }
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body.joined(separator: "\r\n")
    }

    /// The message most cases run on (563 octets as built with the defaults).
    static func basic(
        subject: String? = "Hello world", from: String = "Bob Example <bob@example.org>",
        to: String? = "Alice <alice@example.com>, carol@example.net", cc: String? = "dave@example.com",
        messageID: String? = "<m1@example.org>", extra: [String] = [],
        body: [String] = ["Hello Alice,", "this is the body.", ""]
    ) -> String {
        var headers = [
            "Received: from c.example by mx.example.com; Fri, 15 Mar 2024 14:30:02 +0000",
            "Received: from b.example by c.example; Fri, 15 Mar 2024 14:30:01 +0000",
            "Received: from a.example by b.example; Fri, 15 Mar 2024 14:30:00 +0000",
            "From: \(from)",
        ]
        if let to { headers.append("To: \(to)") }
        if let cc { headers.append("Cc: \(cc)") }
        if let subject { headers.append("Subject: \(subject)") }
        headers.append("Date: Fri, 15 Mar 2024 09:30:00 -0500")
        if let messageID { headers.append("Message-ID: \(messageID)") }
        headers += ["X-Spam-Score: 7", "X-Tag: alpha", "X-Tag: beta"]
        headers += extra
        headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"]
        return build(headers, body: body)
    }

    /// Exactly 1,024 octets (RFC 5228 §5.9: neither :over nor :under 1K).
    static let exactly1K: String = {
        let head = "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: pad\r\n\r\n"
        return head + String(repeating: "x", count: 1024 - head.utf8.count)
    }()

    /// A little over 1 MiB.
    static let large: String = {
        let line = String(repeating: "a", count: 998)
        let lines = [String](repeating: line, count: 1_100)
        return build(["From: bob@example.org", "To: alice@example.com", "Subject: big"], body: lines + [""])
    }()

    /// No empty line after the header section: no body at all (RFC 5173 §4).
    static let headerOnly = build(
        ["From: bob@example.org", "To: alice@example.com", "Subject: no body"], body: nil)

    /// multipart/alternative with a preamble, a text/plain and a text/html part.
    static let alternative = build([
        "From: Bob <bob@example.org>",
        "To: alice@example.com",
        "Subject: Alternatives",
        "Date: Fri, 15 Mar 2024 09:30:00 -0500",
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative; boundary=\"b1\"",
    ], body: [
        "This is the preamble.",
        "--b1",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "Plain part says hello.",
        "--b1",
        "Content-Type: text/html; charset=us-ascii",
        "",
        "<p>HTML part says <b>bonjour</b></p>",
        "--b1--",
        "",
    ])

    /// text/plain in base64: "Hello world, café!\r\n".
    static let base64 = build([
        "From: bob@example.org",
        "To: alice@example.com",
        "Subject: encoded",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
    ], body: ["SGVsbG8gd29ybGQsIGNhZsOpIQ0K", ""])

    /// text/plain in quoted-printable with a soft line break: "café = ok\r\n".
    static let quotedPrintable = build([
        "From: bob@example.org",
        "To: alice@example.com",
        "Subject: qp",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
    ], body: ["caf=C3=A9 =3D o=", "k", ""])

    /// The message of RFC 5231's examples.
    static let relationalExample = build([
        "Received: ...",
        "Received: ...",
        "Subject: example",
        "To: foo@example.com, baz@example.com",
        "CC: qux@example.com",
    ], body: ["RFC Example", ""])
}

// MARK: - The table

@Suite("Sieve table")
struct SieveTableTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var script: String
        var message: String
        var envelopeFrom: String
        var envelopeTo: String
        var userAddresses: [String]
        var now: Date?
        var localOffset: Int
        /// nil: every mailbox exists.
        var existingMailboxes: [String]?
        var expected: [SieveAction]

        var testDescription: String { name }
        var crlfScript: String { SieveTestSupport.crlf(script) }
        var context: SieveContext {
            SieveTestSupport.context(
                message: message, envelopeFrom: envelopeFrom, envelopeTo: envelopeTo, userAddresses: userAddresses,
                now: now ?? SieveTestSupport.now, localOffset: localOffset, existingMailboxes: existingMailboxes)
        }
    }

    static func c(
        _ name: String, _ script: String, message: String = Fixture.basic(), from: String = "bob@example.org",
        to: String = "alice@example.com", user: [String] = ["alice@example.com"], now: Date? = nil, offset: Int = 0,
        mailboxes: [String]? = nil, expect: [SieveAction]
    ) -> Case {
        Case(
            name: name, script: script, message: message, envelopeFrom: from, envelopeTo: to, userAddresses: user,
            now: now, localOffset: offset, existingMailboxes: mailboxes, expected: expect)
    }

    static var cases: [Case] {
        core + headerCases + sizeCases + addressCases + envelopeCases + lexicalCases + copyCases + mailboxCases
            + flagCases + rejectCases + vacationCases + subaddressCases + bodyCases + relationalCases
            + variableCases + dateCases + indexCases + encodedCharacterCases
    }

    @Test(arguments: cases)
    func evaluates(_ c: Case) {
        switch SieveTestSupport.parse(c.crlfScript) {
        case .failure(let error):
            Issue.record("did not parse: \(error)")
        case .success(let script):
            let outcome = script.run(c.context)
            #expect(outcome.error == nil)
            #expect(outcome.actions == c.expected)
            // Pure: the same run gives the same outcome.
            #expect(script.run(c.context) == outcome)
        }
    }

    @Test func fixtureSizes() {
        #expect(Fixture.exactly1K.utf8.count == 1024)
        #expect(Fixture.basic().utf8.count == 563)
        #expect(Fixture.large.utf8.count > 1_048_576)
        #expect(Fixture.large.utf8.count < 2 * 1_048_576)
    }

    // MARK: RFC 5228: control, actions, implicit keep

    static let core: [Case] = [
        c("empty script: implicit keep (5228 §2.10.2)", "", expect: [Act.keep]),
        c("comments only: implicit keep (5228 §2.3)", """
          # a hash comment
          /* a bracketed
             comment */
          """, expect: [Act.keep]),
        c("explicit keep (5228 §4.3)", "keep;", expect: [Act.keep]),
        c("discard cancels the implicit keep (5228 §4.4)", "discard;", expect: []),
        c("stop: the implicit keep is still taken (5228 §3.3)", "stop;", expect: [Act.keep]),
        c("fileinto cancels the implicit keep (5228 §4.1)",
          #"require "fileinto"; fileinto "Archive";"#, expect: [Act.file("Archive")]),
        c("redirect cancels the implicit keep (5228 §4.2)",
          #"redirect "carol@example.net";"#, expect: [Act.redirect("carol@example.net")]),
        c("stop ends processing (5228 §3.3)",
          #"require "fileinto"; fileinto "A"; stop; fileinto "B";"#, expect: [Act.file("A")]),
        c("keep twice is one keep (5228 §2.10.3)", "keep; keep;", expect: [Act.keep]),
        c("fileinto the same mailbox twice is one fileinto (5228 §2.10.3)",
          #"require "fileinto"; fileinto "A"; fileinto "B"; fileinto "A";"#,
          expect: [Act.file("A"), Act.file("B")]),
        c("keep and fileinto repeated: each once, first position (5228 §2.10.3)",
          #"require "fileinto"; fileinto "A"; keep; fileinto "A"; keep;"#, expect: [Act.file("A"), Act.keep]),
        c("discard does not undo an explicit keep (5228 §4.4)", "keep; discard;", expect: [Act.keep]),
        c("discard then fileinto: fileinto still happens (5228 §4.4)",
          #"require "fileinto"; discard; fileinto "A";"#, expect: [Act.file("A")]),
        c("actions in script order",
          #"require "fileinto"; fileinto "A"; redirect "carol@example.net";"#,
          expect: [Act.file("A"), Act.redirect("carol@example.net")]),
        c("if true / else (5228 §3.1)", #"""
          require "fileinto";
          if true { fileinto "T"; } else { fileinto "F"; }
          """#, expect: [Act.file("T")]),
        c("if false / elsif true / else (5228 §3.1)", #"""
          require "fileinto";
          if false { fileinto "T"; } elsif true { fileinto "E"; } else { fileinto "F"; }
          """#, expect: [Act.file("E")]),
        c("if false / elsif false / else (5228 §3.1)", #"""
          require "fileinto";
          if false { fileinto "T"; } elsif false { fileinto "E"; } else { fileinto "F"; }
          """#, expect: [Act.file("F")]),
        c("only the first true branch of a chain runs (5228 §3.1)", #"""
          require "fileinto";
          if true { fileinto "A"; } elsif true { fileinto "B"; } else { fileinto "C"; }
          """#, expect: [Act.file("A")]),
        c("allof (5228 §5.2)", #"""
          require "fileinto";
          if allof (true, true) { fileinto "tt"; }
          if allof (true, false) { fileinto "tf"; }
          if allof (false, false) { fileinto "ff"; }
          """#, expect: [Act.file("tt")]),
        c("anyof (5228 §5.3)", #"""
          require "fileinto";
          if anyof (false, false) { fileinto "ff"; }
          if anyof (false, true) { fileinto "ft"; }
          if anyof (true, true) { fileinto "tt"; }
          """#, expect: [Act.file("ft"), Act.file("tt")]),
        c("not (5228 §5.8)", #"""
          require "fileinto";
          if not false { fileinto "nf"; }
          if not true { fileinto "nt"; }
          """#, expect: [Act.file("nf")]),
        c("nested test lists", #"""
          require "fileinto";
          if allof (anyof (false, true), not allof (true, false), not anyof (false, false)) { fileinto "ok"; }
          """#, expect: [Act.file("ok")]),
        c("5228 §4.3 example: keep under 1M", "if size :under 1M { keep; } else { discard; }", expect: [Act.keep]),
        c("5228 §4.3 example: not size :under 1M", "if not size :under 1M { discard; }", expect: [Act.keep]),
        c("5228 §2.10.2 example: no action, implicit keep", "if size :over 500K { discard; }", expect: [Act.keep]),
        c("15 levels of nested blocks are supported (5228 §2.10.7)",
          "require \"fileinto\";\n" + String(repeating: "if true {\n", count: 15) + "fileinto \"deep\";\n"
            + String(repeating: "}\n", count: 15),
          expect: [Act.file("deep")]),
        c("15 levels of nested test lists are supported (5228 §2.10.7)",
          "require \"fileinto\";\nif " + String(repeating: "allof (", count: 15) + "true"
            + String(repeating: ")", count: 15) + " { fileinto \"deep\"; }\n",
          expect: [Act.file("deep")]),
    ]

    // MARK: RFC 5228 §5.7, §2.7: header, match types, comparators

    static let headerCases: [Case] = [
        c(":contains with the default comparator i;ascii-casemap (5228 §2.7.3)", #"""
          require "fileinto";
          if header :contains "subject" "WORLD" { fileinto "yes"; } else { fileinto "no"; }
          """#, expect: [Act.file("yes")]),
        c(":comparator \"i;octet\" is case-sensitive (5228 §2.7.3)", #"""
          require "fileinto";
          if header :contains :comparator "i;octet" "subject" "WORLD" { fileinto "upper"; }
          if header :contains :comparator "i;octet" "subject" "world" { fileinto "lower"; }
          """#, expect: [Act.file("lower")]),
        c(":is compares the whole value (5228 §2.7.1)", #"""
          require "fileinto";
          if header :is "subject" "hello WORLD" { fileinto "is"; }
          if header :is "subject" "Hello" { fileinto "partial"; }
          """#, expect: [Act.file("is")]),
        c("the default match type is :is (5228 §2.7.1)", #"""
          require "fileinto";
          if header "subject" "hello world" { fileinto "default-is"; }
          if header "subject" "hello" { fileinto "substring"; }
          """#, expect: [Act.file("default-is")]),
        c(":matches with * (5228 §2.7.1)", #"""
          require "fileinto";
          if header :matches "subject" "hel*" { fileinto "a"; }
          if header :matches "subject" "*WORLD" { fileinto "b"; }
          if header :matches "subject" "hello" { fileinto "c"; }
          if header :matches "subject" "*" { fileinto "d"; }
          """#, expect: [Act.file("a"), Act.file("b"), Act.file("d")]),
        c(":matches with ? (5228 §2.7.1)", #"""
          require "fileinto";
          if header :matches "subject" "H?llo w?rld" { fileinto "a"; }
          if header :matches "subject" "H?llo" { fileinto "b"; }
          if header :matches "subject" "?ello world?" { fileinto "c"; }
          """#, expect: [Act.file("a")]),
        c(":matches with escaped \\? and \\* (5228 §2.7.1)", #"""
          require "fileinto";
          if header :matches "subject" "What\\? 5\\*3" { fileinto "literal"; }
          if header :matches "subject" "*\\**" { fileinto "has-star"; }
          """#, message: Fixture.basic(subject: "What? 5*3"), expect: [Act.file("literal"), Act.file("has-star")]),
        c("escaped wildcards match only themselves (5228 §2.7.1)", #"""
          require "fileinto";
          if header :matches "subject" "What\\? 5\\*3" { fileinto "literal"; }
          if header :matches "subject" "*\\**" { fileinto "has-star"; }
          """#, message: Fixture.basic(subject: "Whats 5x3"), expect: [Act.keep]),
        c("header names are case-insensitive; string lists (5228 §2.4.2.1, §2.7)", #"""
          require "fileinto";
          if header :is "SUBJECT" "Hello world" { fileinto "a"; }
          if header :contains ["X-Nope", "To"] ["zzz", "carol@"] { fileinto "b"; }
          """#, expect: [Act.file("a"), Act.file("b")]),
        c("every occurrence of a repeated header is tested (5228 §5.7)", #"""
          require "fileinto";
          if header :is "x-tag" "beta" { fileinto "beta"; }
          """#, expect: [Act.file("beta")]),
        c("the empty key: X-Caffeine example (5228 §5.7)", #"""
          require "fileinto";
          if header :is ["X-Caffeine"] [""] { fileinto "is-empty"; }
          if header :contains ["X-Caffeine"] [""] { fileinto "contains-empty"; }
          if header :contains "X-Absent" "" { fileinto "absent"; }
          """#, message: Fixture.basic(extra: ["X-Caffeine: C8H10N4O2"]), expect: [Act.file("contains-empty")]),
        c("not header :matches \"Cc\" \"?*\" on a message without Cc (5228 §5.7)", #"""
          require "fileinto";
          if not header :matches "Cc" "?*" { fileinto "no-cc"; }
          """#, message: Fixture.basic(cc: nil), expect: [Act.file("no-cc")]),
        c("not header :matches \"Cc\" \"?*\" on a message with Cc (5228 §5.7)", #"""
          require "fileinto";
          if not header :matches "Cc" "?*" { fileinto "no-cc"; }
          """#, expect: [Act.keep]),
        c("leading and trailing whitespace of a value is ignored (5228 §5.7)", #"""
          require "fileinto";
          if header :is "subject" "spaced out" { fileinto "trimmed"; }
          """#, message: Fixture.basic(subject: "   spaced out   "), expect: [Act.file("trimmed")]),
        c("folded headers are unfolded (5228 §2.4.2.2)", #"""
          require "fileinto";
          if header :is "subject" "a folded subject line" { fileinto "unfolded"; }
          """#, message: Fixture.basic(subject: "a folded\r\n subject line"), expect: [Act.file("unfolded")]),
        c("RFC 2047 Q encoded word decoded before matching (5228 §2.7.2)", #"""
          require "fileinto";
          if header :is "subject" "Café crème" { fileinto "decoded"; }
          """#, message: Fixture.basic(subject: "=?ISO-8859-1?Q?Caf=E9_cr=E8me?="), expect: [Act.file("decoded")]),
        c("RFC 2047 B encoded word among plain words (5228 §2.7.2)", #"""
          require "fileinto";
          if header :is "subject" "Re: Grüße again" { fileinto "decoded"; }
          if header :contains "subject" "R3LDvMOfZQ" { fileinto "raw"; }
          """#, message: Fixture.basic(subject: "Re: =?UTF-8?B?R3LDvMOfZQ==?= again"), expect: [Act.file("decoded")]),
        c("exists: all must exist; an invalid header name is no error (5228 §5.5, §2.4.2.2)", #"""
          require "fileinto";
          if exists ["From", "Date"] { fileinto "both"; }
          if exists ["From", "X-Nope"] { fileinto "one"; }
          if exists "From:" { fileinto "colon"; }
          if header :contains "From:" "" { fileinto "colon-header"; }
          """#, expect: [Act.file("both")]),
    ]

    // MARK: RFC 5228 §5.9, §2.4.1: size and numbers

    static let sizeCases: [Case] = [
        c("size :under 1K, :over 100, not :over 1M (5228 §5.9)", #"""
          require "fileinto";
          if allof (size :under 1K, size :over 100, not size :over 1M) { fileinto "small"; }
          """#, expect: [Act.file("small")]),
        c("a message of exactly 1K is neither :over nor :under 1K (5228 §5.9)", #"""
          require "fileinto";
          if size :over 1K { fileinto "over"; } elsif size :under 1K { fileinto "under"; } else { fileinto "exact"; }
          if size :over 1023 { fileinto "over1023"; }
          if size :under 1025 { fileinto "under1025"; }
          """#, message: Fixture.exactly1K,
          expect: [Act.file("exact"), Act.file("over1023"), Act.file("under1025")]),
        c("M suffix; suffixes are case-insensitive (5228 §2.4.1, §8.1)", #"""
          require "fileinto";
          if size :over 1M { fileinto "big"; }
          if size :under 2M { fileinto "under2m"; }
          if size :over 1k { fileinto "lowercase-k"; }
          if size :over 1G { fileinto "giga"; }
          """#, message: Fixture.large,
          expect: [Act.file("big"), Act.file("under2m"), Act.file("lowercase-k")]),
    ]

    // MARK: RFC 5228 §5.1, §2.7.4: address

    static let addressCases: [Case] = [
        c("address :all is the default and never the phrase (5228 §5.1)", #"""
          require "fileinto";
          if address :is "from" "bob@example.org" { fileinto "all"; }
          if address :is "from" "Bob Example <bob@example.org>" { fileinto "phrase"; }
          """#, expect: [Act.file("all")]),
        c("address :localpart and :domain; tags in any order (5228 §2.7.4, §2.6.2)", #"""
          require "fileinto";
          if address :localpart :is "to" "carol" { fileinto "local"; }
          if address :domain :is "to" "EXAMPLE.NET" { fileinto "domain"; }
          if address :domain :is :comparator "i;octet" "to" "EXAMPLE.NET" { fileinto "octet"; }
          if address :is :domain "cc" "example.com" { fileinto "any-order"; }
          """#, expect: [Act.file("local"), Act.file("domain"), Act.file("any-order")]),
        c("address :matches and :contains", #"""
          require "fileinto";
          if address :domain :matches "cc" "*.com" { fileinto "m"; }
          if address :contains "to" "ample.ne" { fileinto "c"; }
          """#, expect: [Act.file("m"), Act.file("c")]),
        c("address acts on the addresses inside a group (5228 §5.1)", #"""
          require "fileinto";
          if address :is "to" "dave@example.com" { fileinto "group"; }
          if address :contains "to" "friends" { fileinto "group-name"; }
          """#, message: Fixture.basic(to: "friends: carol@example.net, dave@example.com;"),
          expect: [Act.file("group")]),
    ]

    // MARK: RFC 5228 §5.4: envelope

    static let envelopeCases: [Case] = [
        c("envelope from and to; envelope-part names are case-insensitive (5228 §5.4)", #"""
          require ["envelope", "fileinto"];
          if envelope :is "from" "bob@example.org" { fileinto "from"; }
          if envelope :domain :is "to" "example.com" { fileinto "to-domain"; }
          if envelope :is "FROM" "BOB@example.org" { fileinto "case"; }
          """#, expect: [Act.file("from"), Act.file("to-domain"), Act.file("case")]),
        c("the null reverse-path matches \"\" whatever the address part (5228 §5.4)", #"""
          require ["envelope", "fileinto"];
          if envelope :is "from" "" { fileinto "null"; }
          if envelope :domain :is "from" "" { fileinto "null-domain"; }
          if envelope :localpart :is "from" "" { fileinto "null-local"; }
          """#, from: "", expect: [Act.file("null"), Act.file("null-domain"), Act.file("null-local")]),
        c("envelope to is the RCPT TO as given, with its +detail (5228 §5.4)", #"""
          require ["envelope", "fileinto"];
          if envelope :localpart :is "to" "alice+lists" { fileinto "local"; }
          if envelope :is "to" "alice+lists@example.com" { fileinto "all"; }
          """#, to: "alice+lists@example.com", expect: [Act.file("local"), Act.file("all")]),
    ]

    // MARK: RFC 5228 §2.2-§2.4, §8: lexical matters

    static let lexicalCases: [Case] = [
        c("identifiers and tags are case-insensitive (5228 §8.1)", #"""
          REQUIRE "fileinto";
          IF Header :CONTAINS "subject" "hello" { FileInto "upper"; }
          """#, expect: [Act.file("upper")]),
        c("comments between tokens (5228 §2.3)", #"""
          require /* c1 */ "fileinto" ; # c2
          if /* c3 */ header :contains # c4
             "subject" /* multi
             line */ "hello" { fileinto /**/ "commented"; } # end
          """#, expect: [Act.file("commented")]),
        c("quoted-string escapes; an undefined escape is just the character (5228 §2.4.2)", #"""
          require "fileinto";
          fileinto "a\\b\"c\qd";
          """#, expect: [Act.file(#"a\b"cqd"#)]),
        c("5228 §9 extended example: company mail is kept", Self.extendedExample, expect: [Act.keep]),
        c("5228 §9 extended example: mailing list to \"filter\"", Self.extendedExample,
          message: Fixture.basic(extra: ["Sender: owner-ietf-mta-filters@imc.org"]), expect: [Act.file("filter")]),
        c("5228 §9 extended example: spam", Self.extendedExample,
          message: Fixture.basic(
            subject: "How to make lots of money fast", from: "x@spam.example", to: "y@else.example", cc: nil),
          expect: [Act.file("spam")]),
        c("5228 §9 extended example: personal", Self.extendedExample,
          message: Fixture.basic(from: "friend@else.example", to: "home@example.community", cc: nil),
          expect: [Act.file("personal")]),
    ]

    static let extendedExample = #"""
        #
        # Example Sieve Filter
        # Declare any optional features or extension used by the script
        #
        require ["fileinto"];

        #
        # Handle messages from known mailing lists
        # Move messages from IETF filter discussion list to filter mailbox
        #
        if header :is "Sender" "owner-ietf-mta-filters@imc.org"
                {
                fileinto "filter";  # move to "filter" mailbox
                }
        #
        # Keep all messages to or from people in my company
        #
        elsif address :DOMAIN :is ["From", "To"] "example.com"
                {
                keep;               # keep in "In" mailbox
                }

        #
        # Try and catch unsolicited email.  If a message is not to me,
        # or it contains a subject known to be spam, file it away.
        #
        elsif anyof (NOT address :all :contains
                       ["To", "Cc", "Bcc"] "me@example.com",
                     header :matches "subject"
                       ["*make*money*fast*", "*university*dipl*mas*"])
                {
                fileinto "spam";   # move to "spam" mailbox
                }
        else
                {
                # Move all other (non-company) mail to "personal"
                # mailbox.
                fileinto "personal";
                }
        """#

    // MARK: RFC 3894: copy

    static let copyCases: [Case] = [
        c("fileinto :copy keeps the implicit keep (3894)", #"""
          require ["fileinto", "copy"];
          fileinto :copy "Archive";
          """#, expect: [Act.file("Archive"), Act.keep]),
        c("redirect :copy keeps the implicit keep (3894)", #"""
          require "copy";
          redirect :copy "carol@example.net";
          """#, expect: [Act.redirect("carol@example.net"), Act.keep]),
        c("fileinto :copy then discard (3894, 5228 §4.4)", #"""
          require ["fileinto", "copy"];
          fileinto :copy "Archive";
          discard;
          """#, expect: [Act.file("Archive")]),
        c("fileinto :copy then a plain fileinto cancels the implicit keep", #"""
          require ["fileinto", "copy"];
          fileinto :copy "A";
          fileinto "B";
          """#, expect: [Act.file("A"), Act.file("B")]),
    ]

    // MARK: RFC 5490: mailbox (:create, mailboxexists)

    static let mailboxCases: [Case] = [
        c("fileinto :create a missing mailbox (5490 §3.2)", #"""
          require ["fileinto", "mailbox"];
          fileinto :create "New";
          """#, mailboxes: [], expect: [Act.file("New", create: true)]),
        c("mailboxexists true (5490 §3.1)", #"""
          require ["fileinto", "mailbox"];
          if mailboxexists "Archive" { fileinto "Archive"; } else { fileinto :create "Archive"; }
          """#, mailboxes: ["Archive"], expect: [Act.file("Archive")]),
        c("mailboxexists false (5490 §3.1)", #"""
          require ["fileinto", "mailbox"];
          if mailboxexists "Archive" { fileinto "Archive"; } else { fileinto :create "Archive"; }
          """#, mailboxes: [], expect: [Act.file("Archive", create: true)]),
        c("mailboxexists needs every mailbox to exist (5490 §3.1)", #"""
          require ["fileinto", "mailbox"];
          if mailboxexists ["Archive", "Missing"] { fileinto "Archive"; } else { fileinto "Archive"; fileinto "NotAll"; }
          """#, mailboxes: ["Archive", "NotAll"], expect: [Act.file("Archive"), Act.file("NotAll")]),
    ]

    // MARK: RFC 5232: imap4flags

    static let flagCases: [Case] = [
        c("fileinto takes the internal variable's flags (5232)", #"""
          require ["fileinto", "imap4flags"];
          addflag "\\Seen";
          fileinto "A";
          """#, expect: [Act.file("A", [#"\Seen"#])]),
        c("the implicit keep takes the internal variable's flags; a flag list splits on spaces (5232)", #"""
          require "imap4flags";
          setflag "\\Seen \\Flagged";
          """#, expect: [Act.kept([#"\Seen"#, #"\Flagged"#])]),
        c("duplicate flags are removed (5232)", #"""
          require "imap4flags";
          setflag ["\\Seen \\Flagged", "\\Seen"];
          addflag "\\Flagged";
          """#, expect: [Act.kept([#"\Seen"#, #"\Flagged"#])]),
        c("removeflag (5232)", #"""
          require "imap4flags";
          setflag "\\Seen \\Flagged \\Answered";
          removeflag "\\Flagged";
          removeflag "$NotThere";
          """#, expect: [Act.kept([#"\Seen"#, #"\Answered"#])]),
        c("setflag replaces (5232)", #"""
          require "imap4flags";
          setflag "\\Seen";
          setflag "\\Flagged";
          """#, expect: [Act.kept([#"\Flagged"#])]),
        c(":flags on fileinto overrides, and leaves, the internal variable (5232)", #"""
          require ["fileinto", "imap4flags"];
          addflag "$A";
          fileinto :flags "\\Deleted" "Trash";
          keep;
          """#, expect: [Act.file("Trash", [#"\Deleted"#]), Act.kept(["$A"])]),
        c(":flags on keep (5232)", #"""
          require "imap4flags";
          keep :flags ["\\Answered", "$Label1 $Label2"];
          """#, expect: [Act.kept([#"\Answered"#, "$Label1", "$Label2"])]),
        c("hasflag with the default comparator i;ascii-casemap (5232)", #"""
          require ["fileinto", "imap4flags"];
          addflag "$Work";
          if hasflag :is "$work" { fileinto "W"; }
          if hasflag :contains "Wor" { fileinto "X"; }
          if hasflag "\\Seen" { fileinto "seen"; }
          """#, expect: [Act.file("W", ["$Work"]), Act.file("X", ["$Work"])]),
        c("fileinto uses the flags of its time, the implicit keep those at the end (5232)", #"""
          require ["fileinto", "imap4flags", "copy"];
          addflag "$A";
          fileinto :copy "X";
          addflag "$B";
          """#, expect: [Act.file("X", ["$A"]), Act.kept(["$A", "$B"])]),
        c("duplicate fileinto: the last flag list wins (5232)", #"""
          require ["fileinto", "imap4flags"];
          fileinto :flags "$One" "X";
          fileinto :flags "$Two" "X";
          """#, expect: [Act.file("X", ["$Two"])]),
        c("flags and discard: nothing stored", #"""
          require "imap4flags";
          addflag "\\Seen";
          discard;
          """#, expect: []),
    ]

    // MARK: RFC 5429: reject, ereject

    static let rejectCases: [Case] = [
        c("reject cancels the implicit keep (5429)", #"""
          require "reject";
          reject "Not wanted here.";
          """#, expect: [Act.reject("Not wanted here.")]),
        c("ereject (5429)", #"""
          require "ereject";
          ereject "Refused.";
          """#, expect: [Act.ereject("Refused.")]),
        c("multi-line text: with dot-stuffing; the last CRLF belongs to the string (5228 §2.4.2)", #"""
          require "reject";
          reject text:
          Go away.
          ..double
          .single
          .
          ;
          """#, expect: [Act.reject("Go away.\r\n.double\r\n.single\r\n")]),
        c("text: followed by a hash comment (5228 §2.4.2, §8.1)", #"""
          require "reject";
          reject text: # the reason follows
          Not today.
          .
          ;
          """#, expect: [Act.reject("Not today.\r\n")]),
        c("a quoted string may span lines (5228 §2.4.2)", """
          require "reject";
          reject "two
          lines";
          """, expect: [Act.reject("two\r\nlines")]),
        c("reject in a branch not taken", #"""
          require "reject";
          if header :contains "subject" "viagra" { reject "no"; }
          """#, expect: [Act.keep]),
    ]

    // MARK: RFC 5230 (vacation) and RFC 6131 (vacation-seconds)

    static let vacationCases: [Case] = [
        c("vacation: defaults; does not cancel the implicit keep (5230 §4, §4.1)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, expect: [Act.vacation("I'm away."), Act.keep]),
        c("vacation :days :subject :from (5230 §4.1, §4.3)", #"""
          require "vacation";
          vacation :days 3 :subject "Out of office" :from "alice@example.com" :handle "h" "Back Monday.";
          """#, expect: [
            Act.vacation("Back Monday.", subject: "Out of office", period: 3 * 86400, from: "alice@example.com"),
            Act.keep,
          ]),
        c("vacation :seconds (6131)", #"""
          require ["vacation", "vacation-seconds"];
          vacation :seconds 7200 :handle "h" "In a meeting.";
          """#, expect: [Act.vacation("In a meeting.", period: 7200), Act.keep]),
        c("vacation :mime with a multi-line reason (5230 §4.4)", #"""
          require "vacation";
          vacation :mime :handle "h" text:
          Content-Type: text/plain; charset=utf-8

          Away until Monday.
          .
          ;
          """#, expect: [
            Act.vacation("Content-Type: text/plain; charset=utf-8\r\n\r\nAway until Monday.\r\n", mime: true),
            Act.keep,
          ]),
        c("no reply to the null sender (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, from: "", expect: [Act.keep]),
        c("no reply to Auto-Submitted: auto-replied (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(extra: ["Auto-Submitted: auto-replied"]), expect: [Act.keep]),
        c("a reply to Auto-Submitted: no (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(extra: ["Auto-Submitted: no"]),
          expect: [Act.vacation("I'm away."), Act.keep]),
        c("no reply to a list message: List-Id (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(extra: ["List-Id: Developers <dev.lists.example.org>"]),
          expect: [Act.keep]),
        c("no reply to a list message: List-Post (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(extra: ["List-Post: <mailto:dev@lists.example.org>"]),
          expect: [Act.keep]),
        c("no reply to Precedence: bulk", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(extra: ["Precedence: bulk"]), expect: [Act.keep]),
        c("no reply to Precedence: junk", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(extra: ["Precedence: junk"]), expect: [Act.keep]),
        c("no reply when the user is not a recipient in the header (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(to: "list@lists.example.org", cc: nil), expect: [Act.keep]),
        c("a reply when the user is in Cc (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(to: "carol@example.net", cc: "Alice <alice@example.com>"),
          expect: [Act.vacation("I'm away."), Act.keep]),
        c("a reply when the user is in Resent-To (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(to: "list@lists.example.org", cc: nil, extra: ["Resent-To: alice@example.com"]),
          expect: [Act.vacation("I'm away."), Act.keep]),
        c(":addresses adds the user's other addresses (5230)", #"""
          require "vacation";
          vacation :addresses ["alice@work.example"] :handle "h" "I'm away.";
          """#, message: Fixture.basic(to: "alice@work.example", cc: nil),
          expect: [Act.vacation("I'm away."), Act.keep]),
        c("no reply to the user's own address (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, from: "alice@example.com", expect: [Act.keep]),
        c("no Message-ID: no In-Reply-To (5230)", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          """#, message: Fixture.basic(messageID: nil), expect: [Act.vacation("I'm away.", inReplyTo: nil), Act.keep]),
        c("vacation with discard: only the reply", #"""
          require "vacation";
          vacation :handle "h" "I'm away.";
          discard;
          """#, expect: [Act.vacation("I'm away.")]),
        c("vacation after fileinto: script order", #"""
          require ["vacation", "fileinto"];
          fileinto "Later";
          vacation :handle "h" "I'm away.";
          """#, expect: [Act.file("Later"), Act.vacation("I'm away.")]),
    ]

    // MARK: RFC 5233: subaddress

    static let subaddressCases: [Case] = [
        c("envelope :detail and :user (5233 §4)", #"""
          require ["envelope", "subaddress", "fileinto"];
          if envelope :detail :is "to" "lists" { fileinto "lists"; }
          if envelope :user :is "to" "alice" { fileinto "user"; }
          """#, to: "alice+lists@example.com", expect: [Act.file("lists"), Act.file("user")]),
        c("no detail: :detail matches no key, :user is the whole local part (5233 §4)", #"""
          require ["envelope", "subaddress", "fileinto"];
          if envelope :detail :matches "to" "*" { fileinto "has-detail"; }
          if envelope :user :is "to" "alice" { fileinto "user"; }
          """#, expect: [Act.file("user")]),
        c("address :detail and :user (5233 §4)", #"""
          require ["subaddress", "fileinto"];
          if address :detail "to" "news" { fileinto "news"; }
          if address :user "to" "alice" { fileinto "user"; }
          """#, message: Fixture.basic(to: "alice+news@example.com"), expect: [Act.file("news"), Act.file("user")]),
        c("an empty detail is \"\" (5233 §4)", #"""
          require ["subaddress", "fileinto"];
          if address :detail :is "from" "" { fileinto "empty"; }
          """#, message: Fixture.basic(from: "bob+@example.org"), expect: [Act.file("empty")]),
        c("a missing detail does not match \"\" (5233 §4)", #"""
          require ["subaddress", "fileinto"];
          if anyof (address :detail :is "cc" "", address :detail :contains "cc" "", address :detail :matches "cc" "*") {
              fileinto "wrong";
          }
          """#, expect: [Act.keep]),
    ]

    // MARK: RFC 5173: body

    static let bodyCases: [Case] = [
        c("body defaults to :text (5173)", #"""
          require ["body", "fileinto"];
          if body :contains "this is the body" { fileinto "found"; }
          """#, expect: [Act.file("found")]),
        c("body :raw :is the whole body after the empty line (5173)", #"""
          require ["body", "fileinto"];
          if body :raw :is text:
          Hello Alice,
          this is the body.
          .
          { fileinto "exact"; }
          """#, expect: [Act.file("exact")]),
        c("body: the default match type is :is (5173)", #"""
          require ["body", "fileinto"];
          if body :raw "Hello" { fileinto "wrong"; }
          """#, expect: [Act.keep]),
        c("no body: every body test is false, even for \"\" (5173)", #"""
          require ["body", "fileinto"];
          if body :raw :contains "" { fileinto "raw"; }
          if body :text :contains "" { fileinto "text"; }
          """#, message: Fixture.headerOnly, expect: [Act.keep]),
        c("body :content \"text/html\" (5173 §5.2)", #"""
          require ["body", "fileinto"];
          if body :content "text/html" :contains "<b>bonjour</b>" { fileinto "html"; }
          if body :content "text/plain" :contains "bonjour" { fileinto "wrong"; }
          """#, message: Fixture.alternative, expect: [Act.file("html")]),
        c("body :content \"text\" matches every text subtype (5173 §5.2)", #"""
          require ["body", "fileinto"];
          if body :content "text" :contains "Plain part" { fileinto "plain"; }
          if body :content "text" :contains "bonjour" { fileinto "html"; }
          if body :content "image" :contains "" { fileinto "image"; }
          if body :content "" :contains "bonjour" { fileinto "any"; }
          """#, message: Fixture.alternative, expect: [Act.file("plain"), Act.file("html"), Act.file("any")]),
        c("body :raw sees the boundaries, :text does not (5173)", #"""
          require ["body", "fileinto"];
          if body :raw :contains "--b1" { fileinto "raw"; }
          if body :text :contains "--b1" { fileinto "text"; }
          if body :text :contains "says hello" { fileinto "plain-text"; }
          """#, message: Fixture.alternative, expect: [Act.file("raw"), Act.file("plain-text")]),
        c("body :text decodes base64; :raw does not (5173)", #"""
          require ["body", "fileinto"];
          if body :text :contains "café" { fileinto "decoded"; }
          if body :raw :contains "café" { fileinto "raw-decoded"; }
          if body :raw :contains "SGVsbG8g" { fileinto "raw"; }
          """#, message: Fixture.base64, expect: [Act.file("decoded"), Act.file("raw")]),
        c("body :text decodes quoted-printable with a soft line break (5173)", #"""
          require ["body", "fileinto"];
          if body :text :contains "café = ok" { fileinto "decoded"; }
          """#, message: Fixture.quotedPrintable, expect: [Act.file("decoded")]),
    ]

    // MARK: RFC 5231: relational, with RFC 4790 i;ascii-numeric

    static let relationalCases: [Case] = [
        c(":value \"gt\" with i;ascii-numeric (5231)", #"""
          require ["relational", "comparator-i;ascii-numeric", "fileinto"];
          if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "gt"; }
          """#, expect: [Act.file("gt")]),
        c(":value \"lt\": numeric versus the default string comparator (5231)", #"""
          require ["relational", "comparator-i;ascii-numeric", "fileinto"];
          if header :value "lt" :comparator "i;ascii-numeric" "x-spam-score" "10" { fileinto "numeric-lt"; }
          if header :value "lt" "x-spam-score" "10" { fileinto "string-lt"; }
          """#, expect: [Act.file("numeric-lt")]),
        c(":value \"ge\" \"le\" \"eq\" \"ne\"; leading zeros (5231, 4790)", #"""
          require ["relational", "comparator-i;ascii-numeric", "fileinto"];
          if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "7" { fileinto "ge"; }
          if header :value "le" :comparator "i;ascii-numeric" "x-spam-score" "7" { fileinto "le"; }
          if header :value "eq" :comparator "i;ascii-numeric" "x-spam-score" "007" { fileinto "eq"; }
          if header :value "ne" :comparator "i;ascii-numeric" "x-spam-score" "7" { fileinto "ne"; }
          """#, expect: [Act.file("ge"), Act.file("le"), Act.file("eq")]),
        c(":count: the examples of 5231", #"""
          require ["relational", "comparator-i;ascii-numeric", "fileinto"];
          if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"] { fileinto "three-addresses"; }
          if anyof (address :count "ge" :comparator "i;ascii-numeric" ["to"] ["3"],
                    address :count "ge" :comparator "i;ascii-numeric" ["cc"] ["3"]) { fileinto "wrong1"; }
          if header :count "ge" :comparator "i;ascii-numeric" ["received"] ["3"] { fileinto "wrong2"; }
          if header :count "ge" :comparator "i;ascii-numeric" ["received", "subject"] ["3"] { fileinto "three-fields"; }
          if header :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"] { fileinto "wrong3"; }
          """#, message: Fixture.relationalExample, expect: [Act.file("three-addresses"), Act.file("three-fields")]),
        c(":count of a repeated header, and of an absent one (5231)", #"""
          require ["relational", "comparator-i;ascii-numeric", "fileinto"];
          if header :count "eq" :comparator "i;ascii-numeric" "x-tag" "2" { fileinto "two"; }
          if header :count "eq" :comparator "i;ascii-numeric" "x-absent" "0" { fileinto "zero"; }
          """#, expect: [Act.file("two"), Act.file("zero")]),
        c("i;ascii-numeric: a value without leading digits is positive infinity (4790)", #"""
          require ["relational", "comparator-i;ascii-numeric", "fileinto"];
          if header :value "gt" :comparator "i;ascii-numeric" "x-weird" "99999" { fileinto "infinite"; }
          if header :value "lt" :comparator "i;ascii-numeric" "x-weird" "99999" { fileinto "finite"; }
          """#, message: Fixture.basic(extra: ["X-Weird: abc"]), expect: [Act.file("infinite")]),
        c(":is with i;ascii-numeric compares numbers (5228 §2.7.3, 4790)", #"""
          require ["comparator-i;ascii-numeric", "fileinto"];
          if header :is :comparator "i;ascii-numeric" "x-spam-score" "0007" { fileinto "same"; }
          """#, expect: [Act.file("same")]),
        c(":value with i;ascii-casemap orders case-insensitively (5231)", #"""
          require ["relational", "fileinto"];
          if header :value "lt" "subject" "I" { fileinto "lt"; }
          if header :value "gt" "subject" "hello" { fileinto "gt"; }
          """#, expect: [Act.file("lt"), Act.file("gt")]),
    ]

    // MARK: RFC 5229: variables

    static let variableCases: [Case] = [
        c("set and ${var} (5229 §3, §4)", #"""
          require ["variables", "fileinto"];
          set "box" "Lists";
          fileinto "${box}";
          """#, expect: [Act.file("Lists")]),
        c("set :length :lower :upper (5229 §4.1)", #"""
          require ["variables", "fileinto"];
          set "a" "juMBlEd lETteRS";
          set :length "len" "${a}";
          set :lower "lo" "${a}";
          set :upper "up" "${a}";
          if string :is "${len}" "15" { fileinto "length"; }
          if string :is :comparator "i;octet" "${lo}" "jumbled letters" { fileinto "lower"; }
          if string :is :comparator "i;octet" "${up}" "JUMBLED LETTERS" { fileinto "upper"; }
          """#, expect: [Act.file("length"), Act.file("lower"), Act.file("upper")]),
        c("set :upperfirst :lowerfirst and their precedence (5229 §4.1)", #"""
          require ["variables", "fileinto"];
          set "a" "juMBlEd lETteRS";
          set :upperfirst "uf" "${a}";
          set :upperfirst :lower "ufl" "${a}";
          set :lowerfirst "lf" "ABC";
          set :lowerfirst :upper "lfu" "abc";
          if string :is :comparator "i;octet" "${uf}" "JuMBlEd lETteRS" { fileinto "upperfirst"; }
          if string :is :comparator "i;octet" "${ufl}" "Jumbled letters" { fileinto "upperfirst-lower"; }
          if string :is :comparator "i;octet" "${lf}" "aBC" { fileinto "lowerfirst"; }
          if string :is :comparator "i;octet" "${lfu}" "aBC" { fileinto "lowerfirst-upper"; }
          """#, expect: [
            Act.file("upperfirst"), Act.file("upperfirst-lower"), Act.file("lowerfirst"), Act.file("lowerfirst-upper"),
          ]),
        c("set :quotewildcard (5229 §4.1)", #"""
          require ["variables", "fileinto"];
          set :quotewildcard "qw" "Rock*";
          set :quotewildcard "qw2" "a?b\\c";
          if string :is :comparator "i;octet" "${qw}" "Rock\\*" { fileinto "star"; }
          if string :is :comparator "i;octet" "${qw2}" "a\\?b\\\\c" { fileinto "all"; }
          if string :matches "Rock and roll" "${qw}" { fileinto "wildcard"; }
          if string :matches "Rock*" "${qw}" { fileinto "literal"; }
          """#, expect: [Act.file("star"), Act.file("all"), Act.file("literal")]),
        c("set :length counts characters, not octets (5229 §4.1)", #"""
          require ["variables", "fileinto"];
          set :length "n" "Grüße";
          if string :is "${n}" "5" { fileinto "chars"; }
          """#, expect: [Act.file("chars")]),
        c("match variables: the \"[*] *\" example, * matches as little as possible (5229 §3.2)", #"""
          require ["variables", "fileinto"];
          if header :matches "Subject" "[*] *" {
              set "one" "${1}";
              set "two" "${2}";
          }
          if string :is :comparator "i;octet" "${two}" "[fwd] version 1.0 is out" { fileinto "INBOX.lists.${one}"; }
          """#, message: Fixture.basic(subject: "[acme-users] [fwd] version 1.0 is out"),
          expect: [Act.file("INBOX.lists.acme-users")]),
        c("match variables: the coyote@**.com example (5229 §3.2)", #"""
          require ["variables", "fileinto"];
          if address :matches ["To", "Cc"] ["coyote@**.com", "wile@**.com"] {
              fileinto "INBOX.business.${2}";
              if string :is "${1}" "" { fileinto "first-empty"; }
          }
          """#, message: Fixture.basic(to: "coyote@ACME.Example.COM", cc: nil),
          expect: [Act.file("INBOX.business.ACME.Example"), Act.file("first-empty")]),
        c("match variables ${0}, and ? (5229 §3.2)", #"""
          require ["variables", "fileinto"];
          if header :matches "subject" "H?llo *" {
              fileinto "${1}-${2}";
              fileinto "${0}";
          }
          """#, expect: [Act.file("e-world"), Act.file("Hello world")]),
        c("an unset variable is \"\"; names are case-insensitive (5229 §3)", #"""
          require ["variables", "fileinto"];
          set "honorific" "Mr";
          fileinto "a${nothing}b";
          fileinto "${HONORIFIC}";
          if string :is "${unset}" "" { fileinto "empty"; }
          """#, expect: [Act.file("ab"), Act.file("Mr"), Act.file("empty")]),
        c("a substituted value is not substituted again (5229 §3)", #"""
          require ["variables", "fileinto"];
          set "beep" "XX";
          set "dollar" "$";
          set "text" "regarding ${dollar}{beep}";
          set :length "n" "${text}";
          if string :contains "${text}" "XX" { fileinto "re-expanded"; }
          if string :is "${n}" "17" { fileinto "literal"; }
          """#, expect: [Act.file("literal")]),
        c("encoded-character is decoded before variables: the \"dear Ethelbert\" example (5229 §3)", #"""
          require ["encoded-character", "variables", "fileinto"];
          set "name" "Ethelbert";
          if header :contains "Subject" "dear${hex:20 24 7b 4e}ame}" { fileinto "dear"; }
          """#, message: Fixture.basic(subject: "dear Ethelbert"), expect: [Act.file("dear")]),
        c("set with a multi-line string (5229 §4 example)", #"""
          require ["variables", "reject"];
          set "honorific"  "Mr";
          set "first_name" "Wile";
          set "last_name"  "Coyote";
          set "vacation" text:
          Dear ${HONORIFIC} ${last_name},
          I'm out, please leave a message after the meep.
          .
          ;
          reject "${vacation}";
          """#, expect: [Act.reject("Dear Mr Coyote,\r\nI'm out, please leave a message after the meep.\r\n")]),
        c("variables in keys and mailbox names", #"""
          require ["variables", "fileinto"];
          set "who" "bob";
          if address :localpart :is "from" "${who}" { fileinto "from-${who}"; }
          """#, expect: [Act.file("from-bob")]),
    ]

    // MARK: RFC 5260: date, currentdate

    static let dateCases: [Case] = [
        c("currentdate date, year, month, day (5260 §5)", #"""
          require ["date", "fileinto"];
          if currentdate :zone "+0000" "date" "2024-03-15" { fileinto "date"; }
          if allof (currentdate :zone "+0000" "year" "2024", currentdate :zone "+0000" "month" "03",
                    currentdate :zone "+0000" "day" "15") { fileinto "ymd"; }
          """#, expect: [Act.file("date"), Act.file("ymd")]),
        c("currentdate time, hour, minute, second (5260 §4.2)", #"""
          require ["date", "fileinto"];
          if currentdate :zone "+0000" "time" "13:45:30" { fileinto "time"; }
          if allof (currentdate :zone "+0000" "hour" "13", currentdate :zone "+0000" "minute" "45",
                    currentdate :zone "+0000" "second" "30") { fileinto "hms"; }
          """#, expect: [Act.file("time"), Act.file("hms")]),
        c("currentdate weekday (0 is Sunday), julian, zone (5260 §4.2)", #"""
          require ["date", "fileinto"];
          if currentdate :zone "+0000" "weekday" "5" { fileinto "friday"; }
          if currentdate :zone "+0000" "julian" "60384" { fileinto "julian"; }
          if currentdate :zone "+0000" "zone" "+0000" { fileinto "zone"; }
          """#, expect: [Act.file("friday"), Act.file("julian"), Act.file("zone")]),
        c("currentdate :zone moves the date across midnight (5260 §4.1)", #"""
          require ["date", "fileinto"];
          if currentdate :zone "+1100" "date" "2024-03-16" { fileinto "date"; }
          if currentdate :zone "+1100" "hour" "00" { fileinto "hour"; }
          if currentdate :zone "+1100" "weekday" "6" { fileinto "weekday"; }
          if currentdate :zone "+1100" "zone" "+1100" { fileinto "zone"; }
          """#, expect: [Act.file("date"), Act.file("hour"), Act.file("weekday"), Act.file("zone")]),
        c("currentdate without :zone uses the local offset (5260 §4.1)", #"""
          require ["date", "fileinto"];
          if currentdate "hour" "14" { fileinto "hour"; }
          if currentdate "zone" "+0100" { fileinto "zone"; }
          """#, offset: 3600, expect: [Act.file("hour"), Act.file("zone")]),
        c("currentdate with a negative local offset (5260 §4.1)", #"""
          require ["date", "fileinto"];
          if currentdate "hour" "08" { fileinto "hour"; }
          if currentdate "zone" "-0500" { fileinto "zone"; }
          """#, offset: -18000, expect: [Act.file("hour"), Act.file("zone")]),
        c("currentdate with relational :value (5260 §5, 5231)", #"""
          require ["date", "relational", "fileinto"];
          if currentdate :zone "+0000" :value "ge" "date" "2024-03-01" { fileinto "after"; }
          if currentdate :zone "+0000" :value "lt" "date" "2024-03-15" { fileinto "before"; }
          """#, expect: [Act.file("after")]),
        c("date :zone converts the Date: header (5260 §4)", #"""
          require ["date", "fileinto"];
          if date :zone "+0000" "date" "hour" "14" { fileinto "hour"; }
          if date :zone "+0000" "date" "time" "14:30:00" { fileinto "time"; }
          """#, expect: [Act.file("hour"), Act.file("time")]),
        c("date :originalzone keeps the header's zone (5260 §4.1, §4.2)", #"""
          require ["date", "fileinto"];
          if date :originalzone "date" "zone" "-0500" { fileinto "zone"; }
          if date :originalzone "date" "hour" "09" { fileinto "hour"; }
          if date :originalzone "date" "iso8601" "2024-03-15T09:30:00-05:00" { fileinto "iso8601"; }
          if date :originalzone "date" "std11" "Fri, 15 Mar 2024 09:30:00 -0500" { fileinto "std11"; }
          """#, expect: [Act.file("zone"), Act.file("hour"), Act.file("iso8601"), Act.file("std11")]),
        c("date without :zone uses the local offset (5260 §4.1)", #"""
          require ["date", "fileinto"];
          if date "date" "date" "2024-03-16" { fileinto "date"; }
          if date "date" "hour" "00" { fileinto "hour"; }
          if date "date" "weekday" "6" { fileinto "weekday"; }
          """#, offset: 36000, expect: [Act.file("date"), Act.file("hour"), Act.file("weekday")]),
        c("date on a missing header is false (5260 §4)", #"""
          require ["date", "fileinto"];
          if date :zone "+0000" "x-nodate" "year" "2024" { fileinto "year"; }
          if date :zone "+0000" :matches "x-nodate" "year" "*" { fileinto "any"; }
          """#, expect: [Act.keep]),
        c("date on an unparseable header is false (5260 §4)", #"""
          require ["date", "fileinto"];
          if date :zone "+0000" :matches "x-bad-date" "date" "*" { fileinto "any"; }
          """#, message: Fixture.basic(extra: ["X-Bad-Date: yesterday at noon"]), expect: [Act.keep]),
        c("date on a date-time without day of week (5260 §4, 5322 §3.3)", #"""
          require ["date", "fileinto"];
          if date :originalzone "x-sent" "date" "2024-03-15" { fileinto "original"; }
          if date :zone "+0100" "x-sent" "date" "2024-03-16" { fileinto "shifted"; }
          """#, message: Fixture.basic(extra: ["X-Sent: 15 Mar 2024 23:59:59 +0000"]),
          expect: [Act.file("original"), Act.file("shifted")]),
        c("date :matches sets match variables (5260, 5229 §3.2)", #"""
          require ["date", "variables", "fileinto"];
          if date :originalzone :matches "date" "date" "*-*-*" { fileinto "${1}/${2}"; }
          """#, expect: [Act.file("2024/03")]),
    ]

    // MARK: RFC 5260 §6: index

    static let indexCases: [Case] = [
        c("header :index counts from the top (5260 §6)", #"""
          require ["index", "fileinto"];
          if header :index 2 :contains "received" "from b.example" { fileinto "second"; }
          if header :index 1 :contains "received" "from b.example" { fileinto "wrong"; }
          """#, expect: [Act.file("second")]),
        c("header :index :last counts from the bottom (5260 §6)", #"""
          require ["index", "fileinto"];
          if header :index 1 :last :contains "received" "from a.example" { fileinto "last"; }
          if header :index 2 :last :contains "received" "from b.example" { fileinto "second-last"; }
          """#, expect: [Act.file("last"), Act.file("second-last")]),
        c("header :index past the last occurrence is false (5260 §6)", #"""
          require ["index", "fileinto"];
          if header :index 4 :contains "received" "" { fileinto "none"; }
          """#, expect: [Act.keep]),
        c("header :index on a repeated X- header (5260 §6)", #"""
          require ["index", "fileinto"];
          if header :index 2 :is "x-tag" "beta" { fileinto "b"; }
          if header :index 1 :is "x-tag" "beta" { fileinto "wrong"; }
          """#, expect: [Act.file("b")]),
    ]

    // MARK: RFC 5228 §2.4.2.4: encoded-character

    static let encodedCharacterCases: [Case] = [
        c("${hex:41 42} (5228 §2.4.2.4)", #"""
          require ["encoded-character", "fileinto"];
          fileinto "${hex:41 42}";
          """#, expect: [Act.file("AB")]),
        c("${unicode:263A} (5228 §2.4.2.4)", #"""
          require ["encoded-character", "fileinto"];
          fileinto "${unicode:263A}";
          """#, expect: [Act.file("☺")]),
        c("$${hex:40} is \"$@\" (5228 §2.4.2.4)", #"""
          require ["encoded-character", "fileinto"];
          fileinto "$${hex:40}";
          """#, expect: [Act.file("$@")]),
        c("blanks and case in encodings (5228 §2.4.2.4)", #"""
          require ["encoded-character", "fileinto"];
          fileinto "${hex: 40 }${HEX: 40}${UnICoDE:0000040}";
          """#, expect: [Act.file("@@@")]),
        c("malformed encodings are left as they are (5228 §2.4.2.4)", #"""
          require ["encoded-character", "fileinto"];
          fileinto "${hex:400}|${Unicode:Cool}|${ unicode:40}";
          """#, expect: [Act.file("${hex:400}|${Unicode:Cool}|${ unicode:40}")]),
        c("decoding is not repeated: ${hex:4${hex:30}} (5228 §2.4.2.4)", #"""
          require ["encoded-character", "fileinto"];
          fileinto "${hex:4${hex:30}}";
          """#, expect: [Act.file("${hex:40}")]),
        c("without require \"encoded-character\" nothing is decoded (5228 §2.10.5)", #"""
          require "fileinto";
          fileinto "${hex:41}";
          """#, expect: [Act.file("${hex:41}")]),
        c("encoded characters in a key (5228 §2.4.2.4)", #"""
          require ["encoded-character", "fileinto"];
          if header :is "subject" "${hex:41 42} ${unicode:263a}" { fileinto "match"; }
          """#, message: Fixture.basic(subject: "AB =?UTF-8?B?4pi6?="), expect: [Act.file("match")]),
    ]
}

// MARK: - Capabilities, vacation handle, runtime errors

@Suite("Sieve semantics outside the table")
struct SieveSemanticsTests {
    static let announced = [
        "fileinto", "envelope", "copy", "imap4flags", "reject", "ereject", "vacation", "vacation-seconds",
        "subaddress", "body", "relational", "variables", "date", "index", "comparator-i;ascii-numeric",
        "encoded-character", "mailbox",
    ]

    @Test func announcesItsExtensions() {
        for ext in Self.announced {
            #expect(SieveScript.extensions.contains(ext), "missing \(ext)")
        }
    }

    /// Whatever is announced (ManageSieve SIEVE capability) is accepted by `require`, alone and together.
    @Test func requireAcceptsEveryAnnouncedExtension() {
        for ext in SieveScript.extensions {
            if case .failure(let error) = SieveTestSupport.parse("require \"\(ext)\";\r\n") {
                Issue.record("require \"\(ext)\" refused: \(error)")
            }
        }
        let all = SieveScript.extensions.map { "\"\($0)\"" }.joined(separator: ", ")
        if case .failure(let error) = SieveTestSupport.parse("require [\(all)];\r\nkeep;\r\n") {
            Issue.record("require of every extension refused: \(error)")
        }
    }

    /// RFC 5230 §4.2: without :handle, the same arguments make the same handle, others another.
    @Test func vacationHandleIsDerivedFromTheArguments() throws {
        func handle(_ script: String) -> String? {
            guard case .success(let s) = SieveTestSupport.parse(SieveTestSupport.crlf(script)) else { return nil }
            for action in s.run(SieveTestSupport.context(message: Fixture.basic())).actions {
                if case .vacation(let v) = action { return v.handle }
            }
            return nil
        }
        let a = handle(#"require "vacation"; vacation "I'm away.";"#)
        let b = handle(#"require "vacation"; vacation "I'm away.";"#)
        let c = handle(#"require "vacation"; vacation "Back on Monday.";"#)
        let explicit = handle(#"require "vacation"; vacation :handle "mine" "I'm away.";"#)
        let first = try #require(a)
        #expect(!first.isEmpty)
        #expect(a == b)
        #expect(a != c)
        #expect(explicit == "mine")
    }

    /// Bare LF line ends are not RFC 5228 §8.1, but scripts saved by Unix editors have them; the
    /// outcome must be the one of the CRLF script (no multi-line strings here).
    @Test func bareLFScriptsBehaveLikeCRLF() throws {
        let script = """
            require ["fileinto", "imap4flags"];
            # comment
            if header :contains "subject" "hello" {
                addflag "\\\\Seen";
                fileinto "A";
            }
            """
        let lf = SieveTestSupport.parse(script)
        let crlf = SieveTestSupport.parse(SieveTestSupport.crlf(script))
        let context = SieveTestSupport.context(message: Fixture.basic())
        let lfScript = try lf.get()
        let crlfScript = try crlf.get()
        #expect(lfScript.run(context) == crlfScript.run(context))
        #expect(crlfScript.run(context).actions == [Act.file("A", [#"\Seen"#])])
    }

    // MARK: Runtime errors (RFC 5228 §2.10.6): error set, actions == the implicit keep alone

    static func runtime(_ script: String, existing: [String]?) -> SieveOutcome? {
        guard case .success(let s) = SieveTestSupport.parse(SieveTestSupport.crlf(script)) else {
            Issue.record("did not parse")
            return nil
        }
        return s.run(SieveTestSupport.context(message: Fixture.basic(), existingMailboxes: existing))
    }

    @Test func fileintoAMissingMailboxIsARuntimeError() throws {
        let outcome = try #require(Self.runtime(#"require "fileinto"; fileinto "Missing";"#, existing: ["INBOX"]))
        #expect(outcome.error != nil)
        #expect(outcome.actions == [Act.keep])
    }

    @Test func aRuntimeErrorDropsTheActionsBeforeIt() throws {
        let outcome = try #require(Self.runtime(#"""
            require ["fileinto", "copy"];
            redirect "carol@example.net";
            fileinto :copy "Archive";
            fileinto "Missing";
            """#, existing: ["INBOX", "Archive"]))
        #expect(outcome.error != nil)
        #expect(outcome.actions == [Act.keep])
    }

    @Test func fileintoCreateAMissingMailboxIsNoError() throws {
        let outcome = try #require(Self.runtime(#"""
            require ["fileinto", "mailbox"];
            fileinto :create "Missing";
            """#, existing: ["INBOX"]))
        #expect(outcome.error == nil)
        #expect(outcome.actions == [Act.file("Missing", create: true)])
    }

    @Test func runtimeErrorInABranchNotTakenIsNoError() throws {
        let outcome = try #require(Self.runtime(#"""
            require "fileinto";
            if false { fileinto "Missing"; }
            """#, existing: ["INBOX"]))
        #expect(outcome.error == nil)
        #expect(outcome.actions == [Act.keep])
    }

    /// RFC 5228 §2.4.2.3: an action with an outbound address that is not a sieve-address is an
    /// error (at parse time for a constant, at run time for a substituted one). Either way: no
    /// redirect.
    @Test(arguments: [
        #"redirect "not an address";"#,
        #"redirect "";"#,
        #"redirect "two@example.com, three@example.com";"#,
        #"redirect "group: a@example.com;";"#,
        #"require "variables"; set "a" "no address here"; redirect "${a}";"#,
        #"require "variables"; set "a" ""; redirect "${a}";"#,
    ])
    func invalidRedirectAddressIsNeverRedirected(_ script: String) {
        guard case .success(let s) = SieveTestSupport.parse(SieveTestSupport.crlf(script)) else { return }
        let outcome = s.run(SieveTestSupport.context(message: Fixture.basic()))
        for action in outcome.actions {
            if case .redirect(let address) = action { Issue.record("redirected to \(address)") }
        }
        #expect(!outcome.actions.isEmpty, "the message must not be lost")
    }
}

// MARK: - Seeded fuzzing

/// SplitMix64: small, seeded, reproducible.
struct SieveTestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Sieve fuzz")
struct SieveFuzzTests {
    /// Tokens a mutation inserts: the grammar's punctuation, tags, numbers at the limits,
    /// strings, encodings, comments, line ends, and bytes that are not UTF-8.
    static let fragmentStrings: [String] = [
        "\"", "{", "}", ";", "[", "]", "(", ")", ",", ":", "\\", "\\\"", "text:\r\n", "\r\n.\r\n", "\r\n..\r\n",
        ":is", ":contains", ":matches", ":over", ":under", ":comparator", "\"i;ascii-numeric\"", ":value", "\"gt\"",
        ":count", ":index", ":last", ":zone", "\"+2400\"", ":originalzone", ":days", ":seconds", ":copy", ":create",
        ":flags", ":detail", ":user", ":raw", ":content", ":text", ":lower", ":length", ":quotewildcard",
        "0", "1K", "99999999999999999999", "4294967296G", "18446744073709551616", "-1",
        "if", "elsif", "else", "not", "allof", "anyof", "true", "false", "stop", "keep", "discard", "require",
        "fileinto", "redirect", "vacation", "reject", "set", "string", "header", "address", "envelope", "body",
        "date", "currentdate", "hasflag", "addflag", "mailboxexists", "size", "exists",
        "\"${hex:", "${hex:41}", "${hex:zz}", "${unicode:FFFFFFFFFFFF}", "${unicode:D800}", "${unicode:",
        "${1}", "${99999999999}", "${", "$", "}}", "*", "?", "\\*",
        "/*", "*/", "#", "\r\n", "\n", "\r", "\t", " ", "\u{0}", "é", "☺",
    ]
    static let fragments: [[UInt8]] =
        fragmentStrings.map { Array($0.utf8) } + [[0xFF], [0xC3], [0x80, 0x80], [0xED, 0xA0, 0x80]]

    static func mutate(_ input: [UInt8], _ rng: inout SieveTestRNG) -> [UInt8] {
        var out = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !out.isEmpty else {
                out = fragments.randomElement(using: &rng)!
                continue
            }
            let i = Int.random(in: 0..<out.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: out[i] = UInt8.random(in: 0...255, using: &rng)
            case 1: out.insert(contentsOf: fragments.randomElement(using: &rng)!, at: i)
            case 2: out.removeSubrange(i..<min(out.count, i + Int.random(in: 1...8, using: &rng)))
            case 3:
                let j = min(out.count, i + Int.random(in: 1...40, using: &rng))
                out.insert(contentsOf: Array(out[i..<j]), at: j)
            case 4: out.removeSubrange(i...)
            case 5:
                let j = Int.random(in: 0..<out.count, using: &rng)
                out.swapAt(i, j)
            default:
                out.insert(contentsOf: [UInt8](repeating: fragments.randomElement(using: &rng)!.first ?? 0x28,
                                               count: Int.random(in: 1...64, using: &rng)), at: i)
            }
        }
        return out
    }

    /// Every extension in use, so that a random message goes through every test's code.
    static let kitchenSink = SieveTestSupport.crlf(#"""
        require ["fileinto", "envelope", "copy", "imap4flags", "vacation", "vacation-seconds", "subaddress",
                 "body", "relational", "variables", "date", "index", "comparator-i;ascii-numeric",
                 "encoded-character", "mailbox", "reject", "ereject"];
        if header :matches "subject" "*" { set "subject" "${1}"; }
        if address :all :matches "from" "*@*" { set "fromdomain" "${2}"; }
        if address :detail :contains ["to", "cc", "bcc", "resent-to"] "x" { addflag "$detail"; }
        if address :localpart :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "2" { addflag "$many"; }
        if envelope :user :is "to" "alice" { addflag "$env"; }
        if envelope :domain :matches "from" "*" { set "envdomain" "${1}"; }
        if header :index 1 :last :contains "received" "from" { addflag "$received"; }
        if header :count "ge" :comparator "i;ascii-numeric" "received" "2" { addflag "$hops"; }
        if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "5" { addflag "$Junk"; }
        if body :raw :contains "viagra" { addflag "$raw"; }
        if body :text :contains "hello" { addflag "$text"; }
        if body :content "text/html" :contains "<b>" { addflag "$html"; }
        if body :content "" :matches "*" { addflag "$any"; }
        if date :zone "+0000" "date" "year" "2024" { addflag "$y"; }
        if date :originalzone :matches "date" "iso8601" "*" { set "iso" "${0}"; }
        if date :index 1 :last :zone "-0330" :value "lt" "received" "date" "2100-01-01" { addflag "$recvdate"; }
        if currentdate :zone "-0700" :value "ge" "date" "2000-01-01" { addflag "$now"; }
        if exists ["from", "date", "x-missing"] { addflag "$all"; }
        if size :over 100K { addflag "$big"; }
        if hasflag :contains "$" { set :upper :length "n" "${subject}"; }
        if string :count "ge" :comparator "i;ascii-numeric" ["${subject}", "${fromdomain}"] "1" { addflag "$s"; }
        if mailboxexists "Lists" { fileinto :copy :flags "\\Seen" "Lists"; } else { fileinto :copy :create "Lists"; }
        if header :contains "subject" "${hex:41}${unicode:263A}" { redirect :copy "carol@example.net"; }
        vacation :days 2 :subject "Re: ${subject}" :handle "ks" :addresses ["alice@work.example"] "Away: ${iso}";
        """#)

    static func lineEnds(_ s: String) -> Int { s.utf8.reduce(0) { $0 + ($1 == 10 || $1 == 13 ? 1 : 0) } }

    static func checkError(_ error: SieveError, _ source: String) {
        #expect(error.line >= 1 && error.column >= 1, "\(error)")
        #expect(error.line <= lineEnds(source) + 1, "\(error)")
        #expect(error.column <= source.utf8.count + 1, "\(error)")
        #expect(!error.message.isEmpty)
    }

    static func checkOutcome(_ outcome: SieveOutcome) {
        if outcome.error != nil {
            #expect(outcome.actions.count == 1, "after a runtime error only the implicit keep")
            if let first = outcome.actions.first, case .keep = first {} else {
                Issue.record("runtime error without the implicit keep: \(outcome.actions)")
            }
        }
    }

    @Test func kitchenSinkParses() {
        if case .failure(let error) = SieveTestSupport.parse(Self.kitchenSink) {
            Issue.record("\(error)")
        }
    }

    /// 2,000 mutations of the table's scripts: each parses or throws a SieveError with a sane
    /// position, the same one twice; what parses runs without crashing.
    @Test func mutatedScriptsParseOrThrow() {
        var rng = SieveTestRNG(seed: 0x5EED_0005_1E5E)
        let corpus = SieveTableTests.cases.map(\.crlfScript).filter { !$0.isEmpty } + [Self.kitchenSink]
        let messages = [Fixture.basic(), Fixture.alternative, Fixture.headerOnly, Fixture.base64]
        for _ in 0..<2_000 {
            let base = corpus.randomElement(using: &rng)!
            let source = String(decoding: Self.mutate(Array(base.utf8), &rng), as: UTF8.self)
            let first = SieveTestSupport.parse(source)
            switch first {
            case .failure(let error):
                Self.checkError(error, source)
                if case .failure(let again) = SieveTestSupport.parse(source) {
                    #expect(again == error, "the same script must give the same error")
                } else {
                    Issue.record("the same script parsed the second time")
                }
            case .success(let script):
                let message = messages.randomElement(using: &rng)!
                let from = ["bob@example.org", "", "<>", "not an address", "a@b@c"].randomElement(using: &rng)!
                Self.checkOutcome(script.run(SieveTestSupport.context(
                    message: message, envelopeFrom: from, existingMailboxes: ["INBOX", "A", "Archive"])))
            }
        }
    }

    static let headerPool: [String] = [
        "From: Bob <bob@example.org>", "From: <<<@@@>>>", "From: \"unterminated <a@b", "From:", "From: @",
        "To: alice@example.com", "To: alice+x@example.com, carol@example.net", "To: ,,,,", "To: undisclosed-recipients:;",
        "To: friends: a@b.c, (comment) d@e.f;", "Cc: =?utf-8?B?////?= <a@b>", "Subject: =?utf-8?B?////?=",
        "Subject: =?x-unknown?Q?=ZZ?=", "Subject: =?UTF-8?Q?=E2=98=BA?= hello", "Subject: A☺", "Subject:",
        "Date: Mon, 99 Foo 20245 25:61:61 +9999", "Date: ", "Date: Fri, 15 Mar 2024 09:30:00 -0500",
        "Date: 1 Jan 1970 00:00:00 +0000", "Date: Sat, 31 Dec 9999 23:59:60 -2359",
        "Received: ;;;;", "Received: from x; Fri, 15 Mar 2024 09:30:00 -0500", "X-Spam-Score: 99999999999999999999999",
        "X-Spam-Score: -1", "Auto-Submitted: auto-generated", "List-Id:", "Precedence: bulk", "Message-ID: <",
        "Content-Type: multipart/mixed; boundary=", "Content-Type: multipart/alternative; boundary=\"zz\"",
        "Content-Type: multipart/mixed; boundary=zz", "Content-Type: message/rfc822", "Content-Type: text/html",
        "Content-Type: text/plain; charset=x-unknown", "Content-Type: ;;;=\"", "Content-Transfer-Encoding: base64",
        "Content-Transfer-Encoding: quoted-printable", "Content-Transfer-Encoding: x-garbage",
        " folded continuation without a field", "NoColonHeader", ": empty name", "X-Long: " + String(repeating: "a", count: 5000),
    ]

    static let bodyPool: [String] = [
        "--zz\r\n", "--zz--\r\n", "Content-Type: text/plain\r\n\r\n", "Content-Type: multipart/mixed; boundary=zz\r\n\r\n",
        "Content-Transfer-Encoding: base64\r\n\r\n", "=C3=A9=\r\n", "====\r\n", "@@@@!!!!\r\n", "hello <b>world</b>\r\n",
        "\r\n.\r\n", "viagra\r\n", "\r\n", "From: x\r\nSubject: nested\r\n\r\n",
    ]

    static func randomMessage(_ rng: inout SieveTestRNG) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<Int.random(in: 0...12, using: &rng) {
            if Int.random(in: 0..<10, using: &rng) == 0 {
                out += (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                out += Array(headerPool.randomElement(using: &rng)!.utf8)
            }
            out += [[13, 10], [13, 10], [13, 10], [10], [13]].randomElement(using: &rng)!
        }
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: break  // no separator, no body
        case 1: out += [10, 10]
        default: out += [13, 10]
        }
        for _ in 0..<Int.random(in: 0...10, using: &rng) {
            if Int.random(in: 0..<4, using: &rng) == 0 {
                out += (0..<Int.random(in: 1...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                out += Array(bodyPool.randomElement(using: &rng)!.utf8)
            }
        }
        return out
    }

    /// `run` on random messages: garbage headers, no separator, bare CR or LF, 8-bit bytes,
    /// broken MIME. Never a crash; a runtime error leaves the implicit keep alone.
    @Test func randomMessagesNeverCrash() throws {
        guard case .success(let script) = SieveTestSupport.parse(Self.kitchenSink) else {
            Issue.record("kitchen sink did not parse")
            return
        }
        var rng = SieveTestRNG(seed: 0xBAD_5EED_0001)
        let fixtures = [Fixture.basic(), Fixture.alternative, Fixture.base64, Fixture.quotedPrintable].map { Array($0.utf8) }
        for i in 0..<600 {
            var message = Self.randomMessage(&rng)
            if i % 3 == 0 {
                // A valid message with a few bytes changed reaches deeper into the MIME code.
                message = fixtures.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    message[Int.random(in: 0..<message.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            let context = SieveContext(
                message: message,
                envelopeFrom: ["bob@example.org", "", "x", "a@b@c", "\u{0}@\u{FF}"].randomElement(using: &rng)!,
                envelopeTo: ["alice@example.com", "alice+x@example.com", "", "+@", "alice+"].randomElement(using: &rng)!,
                userAddresses: ["alice@example.com"], now: SieveTestSupport.now,
                localOffset: Int.random(in: -43_200...50_400, using: &rng),
                mailboxExists: { $0.utf8.count % 2 == 0 })
            Self.checkOutcome(script.run(context))
        }
    }

    /// Deeply nested input must be refused or handled, never overflow the stack: a script of
    /// 50,000 nested `not`s, blocks and test lists (ManageSieve scripts are untrusted), and a
    /// message of 2,000 nested multiparts under `body`.
    @Test func deepNestingDoesNotCrash() {
        let depth = 50_000
        let scripts = [
            "if " + String(repeating: "not ", count: depth) + "true { keep; }\r\n",
            String(repeating: "if true {\r\n", count: depth) + "keep;\r\n" + String(repeating: "}\r\n", count: depth),
            "if " + String(repeating: "allof(", count: depth) + "true" + String(repeating: ")", count: depth) + " { keep; }\r\n",
            "if header :is \"subject\" " + String(repeating: "[", count: depth) + "\"x\"" + " { keep; }\r\n",
        ]
        for source in scripts {
            switch SieveTestSupport.parse(source) {
            case .failure(let error): Self.checkError(error, source)
            case .success(let script): Self.checkOutcome(script.run(SieveTestSupport.context(message: Fixture.basic())))
            }
        }

        var message = "From: bob@example.org\r\nTo: alice@example.com\r\nSubject: nested\r\n"
        for level in 0..<2_000 {
            message += "Content-Type: multipart/mixed; boundary=\"b\(level)\"\r\n\r\n--b\(level)\r\n"
        }
        message += "Content-Type: text/plain\r\n\r\ndeep hello\r\n"
        let source = SieveTestSupport.crlf(#"""
            require ["body", "fileinto"];
            if body :content "text" :contains "hello" { fileinto "found"; }
            if body :text :contains "hello" { fileinto "found-text"; }
            """#)
        guard case .success(let script) = SieveTestSupport.parse(source) else {
            Issue.record("body script did not parse")
            return
        }
        Self.checkOutcome(script.run(SieveTestSupport.context(message: message)))
    }
}
