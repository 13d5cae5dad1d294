import Testing
@testable import IMAPProtocol

/// EXISTS, RECENT, EXPUNGE, VANISHED, SEARCH, ESEARCH responses (RFC 9051 §7.3-§7.5,
/// RFC 4731, RFC 7162).
@Suite struct MessageResponseTests {
    @Test func counters() {
        #expect(wire(.exists(23)) == "* 23 EXISTS\r\n")
        #expect(wire(.exists(0)) == "* 0 EXISTS\r\n")
        #expect(wire(.recent(5)) == "* 5 RECENT\r\n")
        #expect(wire(.expunge(3)) == "* 3 EXPUNGE\r\n")
        #expect(wire(.expunge(4_294_967_295)) == "* 4294967295 EXPUNGE\r\n")
    }

    @Test func vanished() {
        #expect(wire(.vanished(earlier: true, SequenceSet(numbers: [41, 43, 44, 45, 116]))) == "* VANISHED (EARLIER) 41,43:45,116\r\n")
        #expect(wire(.vanished(earlier: false, SequenceSet(ranges: [405...405, 407...410]))) == "* VANISHED 405,407:410\r\n")
    }

    @Test func search() {
        #expect(wire(.search([2, 84, 882])) == "* SEARCH 2 84 882\r\n")
        #expect(wire(.search([])) == "* SEARCH\r\n")
        #expect(wire(.search([2, 5, 6, 7, 11, 12, 18, 19, 20, 23], modSeq: 917_162_500)) == "* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n")
    }

    @Test func esearch() {
        #expect(wire(.esearch(ESearchResponse(tag: "A282", uid: false, min: 2, count: 3))) == "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n")
        #expect(wire(.esearch(ESearchResponse(tag: "A283", uid: true, all: SequenceSet(numbers: [2, 10, 11]))))
            == "* ESEARCH (TAG \"A283\") UID ALL 2,10:11\r\n")
        #expect(wire(.esearch(ESearchResponse(tag: "A284", uid: false))) == "* ESEARCH (TAG \"A284\")\r\n")
        #expect(wire(.esearch(ESearchResponse(tag: "t", uid: true, min: 1, max: 47, count: 9, all: SequenceSet(numbers: [1, 2, 3, 47]), modSeq: 1234)))
            == "* ESEARCH (TAG \"t\") UID MIN 1 MAX 47 COUNT 9 ALL 1:3,47 MODSEQ 1234\r\n")
        // An empty ALL is omitted (RFC 4731 §3.1); a tag with quotes is escaped.
        #expect(wire(.esearch(ESearchResponse(tag: nil, uid: false, count: 0, all: SequenceSet([])))) == "* ESEARCH COUNT 0\r\n")
    }
}
