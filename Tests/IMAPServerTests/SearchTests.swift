import IMAPProtocol
import MailAuth
import MailStore
import Testing
@testable import IMAPServer

@Suite("SEARCH evaluation")
struct SearchTests {
    /// Three messages: 1 = simple (seen), 2 = nested (flagged, $Work, recent), 3 = eightBit (deleted).
    let box: SelectedMailbox
    let contents: [LoadedMessage]

    init() {
        let info = MailboxInfo(id: MailboxID(1), user: UserID(1), name: "INBOX", uidValidity: 1, uidNext: 8, highestModSeq: 9,
                               specialUse: nil, subscribed: true, selectable: true, messageCount: 3, unseenCount: 2,
                               deletedCount: 1, totalSize: 0)
        let day: Int64 = 86_400
        let base: Int64 = 1_772_323_200  // 2026-03-01T00:00:00Z
        let summaries = [
            MessageSummary(uid: 3, modSeq: 2, flags: MessageFlags(system: .seen), internalDate: InternalDate(seconds: base), size: 100),
            MessageSummary(uid: 5, modSeq: 7, flags: MessageFlags(system: .flagged, keywords: ["$Work"]),
                           internalDate: InternalDate(seconds: base + 2 * day + 3600, zoneMinutes: -300), size: 2000),
            MessageSummary(uid: 7, modSeq: 9, flags: MessageFlags(system: .deleted), internalDate: InternalDate(seconds: base + 5 * day), size: 50),
        ]
        box = SelectedMailbox(info: info, messages: summaries, readOnly: false, recent: [5])
        contents = [Fixtures.simple, Fixtures.nested, Fixtures.eightBit].map { LoadedMessage(bytes: $0) }
    }

    func search(_ key: SearchKey, saved: [UInt32]? = nil) -> [UInt32] {
        let program = SearchProgram(key, mailbox: box, saved: saved)
        return box.messages.enumerated().compactMap { i, m in
            program.matches(.init(seq: i + 1, message: m, content: program.needsContent ? contents[i] : nil), now: 1_772_323_200 + 6 * 86_400)
                ? m.uid : nil
        }
    }

    func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func flagsAndKeywords() {
        #expect(search(.all) == [3, 5, 7])
        #expect(search(.seen) == [3])
        #expect(search(.unseen) == [5, 7])
        #expect(search(.flagged) == [5])
        #expect(search(.deleted) == [7])
        #expect(search(.undeleted) == [3, 5])
        #expect(search(.keyword(.keyword("$work"))) == [5])
        #expect(search(.unkeyword(.keyword("$Work"))) == [3, 7])
        #expect(search(.recent) == [5])
        #expect(search(.new) == [5])
        #expect(search(.old) == [3, 7])
    }

    @Test func numbersSizesAndDates() {
        #expect(search(.sequenceSet(SequenceSet([.range(from: .number(2), to: .last)]))) == [5, 7])
        #expect(search(.uid(SequenceSet([.range(from: .number(4), to: .number(6))]))) == [5])
        #expect(search(.uid(SequenceSet.savedResult), saved: [3, 7]) == [3, 7])
        #expect(search(.larger(99)) == [3, 5])
        #expect(search(.smaller(100)) == [7])
        #expect(search(.modSeq(7, entry: nil)) == [5, 7])
        // Message 2 arrived 2026-03-03 01:00Z, i.e. 2026-03-02 20:00 in its own zone (-0500).
        #expect(search(.on(IMAPDate(year: 2026, month: 3, day: 2))) == [5])
        #expect(search(.before(IMAPDate(year: 2026, month: 3, day: 2))) == [3])
        #expect(search(.since(IMAPDate(year: 2026, month: 3, day: 3))) == [7])
        #expect(search(.younger(2 * 86_400)) == [7])
        #expect(search(.older(2 * 86_400)) == [3, 5])
        #expect(search(.sentOn(IMAPDate(year: 2026, month: 3, day: 2))) == [3])
        #expect(search(.sentSince(IMAPDate(year: 2026, month: 3, day: 3))) == [5])
    }

    @Test func textKeysDecodeHeadersAndBodies() {
        #expect(search(.from(utf8("jane"))) == [5])
        #expect(search(.from(utf8("JÖRG"))) == [7])  // 8-bit header, case-insensitive
        #expect(search(.cc(utf8("andré"))) == [5])  // RFC 2047 decoded
        #expect(search(.subject(utf8("projekt"))) == [5])
        #expect(search(.header(field: "Message-ID", value: [])) == [3, 5])
        #expect(search(.header(field: "In-Reply-To", value: utf8("orig@"))) == [5])
        // Quoted-printable UTF-8 (message 2) and 8-bit ISO-8859-1 (message 3), both decoded.
        #expect(search(.body(utf8("GRÜẞE".lowercased()))) == [5, 7])
        #expect(search(.body(utf8("old body"))) == [5])  // inside the forwarded message
        #expect(search(.text(utf8("subject: hi"))) == [3])
        #expect(search(.body(utf8("subject"))) == [5])  // the forwarded header is text of message 2
        #expect(search(.to(utf8("bob@example.test"))) == [3, 5])
    }

    @Test func booleanCombinations() {
        #expect(search(.not(.seen)) == [5, 7])
        #expect(search(.or(.seen, .deleted)) == [3, 7])
        #expect(search(.and([.unseen, .not(.deleted)])) == [5])
        #expect(search(.and([.or(.from(utf8("alice")), .from(utf8("jane"))), .larger(500)])) == [5])
        let program = SearchProgram(.and([.seen, .modSeq(1, entry: nil)]), mailbox: box, saved: nil)
        #expect(program.usesModSeq && !program.needsContent)
    }
}
