import Testing
@testable import IMAPProtocol

/// SEARCH and UID SEARCH (RFC 9051 §6.4.4, ESEARCH RFC 4731, SEARCHRES RFC 5182, CONDSTORE
/// RFC 7162 §3.1.5, WITHIN RFC 5032).
@Suite struct SearchCommandTests {
    static func search(_ key: SearchKey, charset: String? = nil, returns: [SearchReturnOption]? = nil, uid: Bool = false) -> IMAPCommand {
        .search(SearchCommand(charset: charset, returnOptions: returns, key: key), uid: uid)
    }

    static let feb1994 = IMAPDate(year: 1994, month: 2, day: 1)
    static let gruss = bytes("Gr\u{00FC}\u{00DF}")

    static let fixtures: [Fixture] = [
        Fixture("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
                search(.and([.flagged, .since(feb1994), .not(.from(bytes("Smith")))]))),
        Fixture("A283 SEARCH TEXT \"string not in mailbox\"\r\n", search(.text(bytes("string not in mailbox")))),
        Fixture("a SEARCH CHARSET UTF-8 TEXT {6}\r\nGr\u{00FC}\u{00DF}\r\n",
                [.needContinuation(literalSize: 6), cmd("a", search(.text(gruss), charset: "UTF-8"))]),
        Fixture("a SEARCH CHARSET utf-8 SUBJECT \"Gr\u{00FC}\u{00DF}\"\r\n", search(.subject(gruss), charset: "UTF-8")),
        Fixture("a SEARCH CHARSET \"ISO-8859-1\" BODY {3+}\r\n\u{00E4}x\r\n", [cmd("a", search(.body([0xC3, 0xA4, 0x78]), charset: "ISO-8859-1"))]),
        Fixture("A284 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
                search(.and([.flagged, .since(feb1994), .not(.from(bytes("Smith")))]), returns: [.min, .count])),
        Fixture("a UID SEARCH RETURN () UNDELETED\r\n", search(.undeleted, returns: [], uid: true)),
        Fixture("a UID SEARCH RETURN (SAVE MAX ALL) CHARSET UTF-8 UNSEEN\r\n",
                search(.unseen, charset: "UTF-8", returns: [.save, .max, .all], uid: true)),
        Fixture("9 uid search UNDELETED SINCE 5-Jan-2024\r\n",
                search(.and([.undeleted, .since(IMAPDate(year: 2024, month: 1, day: 5))]), uid: true)),
        Fixture("a SEARCH UNSEEN\r\n", search(.unseen)),
        // RFC 5256 §5's example, and RFC 5957's DISPLAY keys.
        Fixture("A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL\r\n",
                .sort([SortCriterion(.subject), SortCriterion(.date, reverse: true)], SearchCommand(charset: "UTF-8", key: .all), uid: false)),
        Fixture("A285 SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\"\r\n",
                .sort([SortCriterion(.subject)], SearchCommand(charset: "US-ASCII", key: .text(bytes("not in mailbox"))), uid: false)),
        Fixture("a uid sort (reverse displayfrom size) \"utf-8\" UNSEEN SINCE 1-Feb-1994\r\n",
                .sort([SortCriterion(.displayFrom, reverse: true), SortCriterion(.size)],
                      SearchCommand(charset: "UTF-8", key: .and([.unseen, .since(feb1994)])), uid: true)),
        Fixture("a UID SEARCH UID 1:* NOT DELETED\r\n", search(.and([.uid(.all), .not(.deleted)]), uid: true)),
        Fixture("a SEARCH OR (FROM alice TO bob) NOT (SEEN DELETED)\r\n",
                search(.or(.and([.from(bytes("alice")), .to(bytes("bob"))]), .not(.and([.seen, .deleted]))))),
        Fixture("a SEARCH OR OR ANSWERED FLAGGED DRAFT\r\n", search(.or(.or(.answered, .flagged), .draft))),
        Fixture("a SEARCH HEADER Message-ID \"<x@y.example>\"\r\n", search(.header(field: "Message-ID", value: bytes("<x@y.example>")))),
        Fixture("a SEARCH HEADER X-Spam \"\"\r\n", search(.header(field: "X-Spam", value: []))),
        Fixture("a SEARCH LARGER 10000 SMALLER 20000\r\n", search(.and([.larger(10000), .smaller(20000)]))),
        Fixture("a SEARCH KEYWORD $Forwarded UNKEYWORD $Junk\r\n", search(.and([.keyword(.forwarded), .unkeyword(.junk)]))),
        Fixture("a SEARCH 1:5,7 SENTBEFORE \"1-Jan-2000\"\r\n",
                search(.and([.sequenceSet(SequenceSet([range(1, 5), one(7)])), .sentBefore(IMAPDate(year: 2000, month: 1, day: 1))]))),
        Fixture("a SEARCH SENTON 31-Dec-1999 SENTSINCE 01-Jan-1999 BEFORE 2-mar-2001 ON 29-Feb-2000\r\n",
                search(.and([.sentOn(IMAPDate(year: 1999, month: 12, day: 31)), .sentSince(IMAPDate(year: 1999, month: 1, day: 1)),
                             .before(IMAPDate(year: 2001, month: 3, day: 2)), .on(IMAPDate(year: 2000, month: 2, day: 29))]))),
        Fixture("a SEARCH $\r\n", search(.sequenceSet(.savedResult))),
        Fixture("a SEARCH *\r\n", search(.sequenceSet(SequenceSet([.single(.last)])))),
        Fixture("a SEARCH NEW OLD RECENT ANSWERED UNANSWERED UNFLAGGED UNDRAFT ALL CC x BCC y\r\n",
                search(.and([.new, .old, .recent, .answered, .unanswered, .unflagged, .undraft, .all, .cc(bytes("x")), .bcc(bytes("y"))]))),
        Fixture("a SEARCH MODSEQ 620162338\r\n", search(.modSeq(620_162_338, entry: nil))),
        Fixture("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
                search(.modSeq(620_162_338, entry: .init(flag: .draft, type: .all)))),
        Fixture("a SEARCH MODSEQ \"/flags/$Junk\" priv 0\r\n", search(.modSeq(0, entry: .init(flag: .junk, type: .priv)))),
        Fixture("a SEARCH YOUNGER 3600 OLDER 60\r\n", search(.and([.younger(3600), .older(60)]))),
    ]

    static let errors: [(String, String)] = [
        ("a SEARCH\r\n", "expected SP"),
        ("a SEARCH BOGUS\r\n", "unknown search key at \"BOGUS\""),
        ("a SEARCH CHARSET UTF-8\r\n", "expected SP"),
        ("a SEARCH SINCE 32-Jan-2024\r\n", "day 32 is out of range"),
        ("a SEARCH SINCE 1-Foo-2024\r\n", "month name"),
        ("a SEARCH SINCE 1-Jan-24\r\n", "four-digit year"),
        ("a SEARCH SINCE \"1-Jan-2024\r\n", "closing quote of date"),
        ("a SEARCH OR SEEN\r\n", "expected SP"),
        ("a SEARCH (SEEN\r\n", "\")\" of search key list"),
        ("a SEARCH ()\r\n", "expected search key"),
        ("a SEARCH RETURN (BOGUS) ALL\r\n", "unknown SEARCH return option"),
        ("a SEARCH LARGER x\r\n", "expected size"),
        ("a SEARCH MODSEQ \"/bogus/x\" all 1\r\n", "MODSEQ entry name"),
        ("a SEARCH MODSEQ \"/flags/\\\\draft\" some 1\r\n", "entry type"),
        ("a SEARCH YOUNGER 0\r\n", "must not be 0"),
        ("a SEARCH HEADER Subject\r\n", "expected SP"),
        ("a SEARCH SEEN  UNSEEN\r\n", "expected search key"),
        ("a SEARCH SEEN \r\n", "expected search key"),
        ("a SORT () UTF-8 ALL\r\n", "sort key"),
        ("a SORT (ARRIVAL) ALL\r\n", "expected SP"),
        ("a SORT (NAME) UTF-8 ALL\r\n", "unknown sort key"),
        ("a SORT (REVERSE) UTF-8 ALL\r\n", "expected SP"),
        ("a SORT ARRIVAL UTF-8 ALL\r\n", "\"(\" of SORT criteria"),
        ("a SORT (DATE) UTF-8\r\n", "expected SP"),
    ]

    @Test(arguments: fixtures) func parses(_ f: Fixture) { check(f) }

    @Test(arguments: errors) func rejects(_ e: (String, String)) {
        let results = Driver.run(bytes(e.0 + "z NOOP\r\n"))
        #expect(results.count == 2, "\(results)")
        guard case .error(let tag, let message) = results.first else {
            Issue.record("expected an error, got \(results)")
            return
        }
        #expect(tag == "a")
        #expect(message.contains(e.1), "\(message)")
        #expect(results.last == cmd("z", .noop))
    }

    @Test func nestingDepthIsBounded() {
        let okNots = String(repeating: "NOT ", count: 31) + "SEEN"
        #expect(parseOne("a SEARCH \(okNots)\r\n") != nil)
        let deepNots = String(repeating: "NOT ", count: 40) + "SEEN"
        #expect(errorMessage(Driver.run(bytes("a SEARCH \(deepNots)\r\n")))?.contains("nesting deeper than 32") == true)
        let deepParens = String(repeating: "(", count: 100) + "SEEN" + String(repeating: ")", count: 100)
        #expect(errorMessage(Driver.run(bytes("a SEARCH \(deepParens)\r\n")))?.contains("nesting deeper than 32") == true)
        let config = IMAPCommandParser.Configuration(maxNestingDepth: 4)
        #expect(errorMessage(Driver.run(bytes("a SEARCH OR (NOT SEEN) (NOT (DELETED))\r\n"), configuration: config)) != nil)
        #expect(parseOne("a SEARCH OR (NOT SEEN) DELETED\r\n", configuration: config) != nil)
    }

    @Test func manySynchronizingLiterals() {
        // More literals than are pre-validated: everything still parses, one "+" per literal.
        var input = bytes("a SEARCH")
        var keys: [SearchKey] = []
        for k in 0..<12 {
            let word = "w\(k)"
            input += bytes(" SUBJECT {\(word.utf8.count)}\r\n\(word)")
            keys.append(.subject(bytes(word)))
        }
        input += bytes("\r\n")
        let results = Driver.run(input)
        #expect(results.count == 13)
        #expect(results.filter { if case .needContinuation = $0 { true } else { false } }.count == 12)
        #expect(results.last == cmd("a", Self.search(.and(keys))))
    }

    @Test func datesCompare() {
        #expect(IMAPDate(year: 2024, month: 1, day: 5) < IMAPDate(year: 2024, month: 2, day: 1))
        #expect(IMAPDate(year: 2024, month: 1, day: 5).description == "5-Jan-2024")
        #expect(IMAPDate(year: 1970, month: 1, day: 2).daysSince1970 == 1)
    }
}
