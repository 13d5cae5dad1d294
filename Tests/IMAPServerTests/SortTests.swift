import IMAPProtocol
import MailAuth
import MailStore
import Testing
@testable import IMAPServer

@Suite("SORT: base subject and order (RFC 5256, RFC 5957)")
struct SortTests {
    /// RFC 5256 §2.1: what "the same subject" means for SORT and THREAD.
    @Test(arguments: [
        ("Re: Hello", "Hello"),
        ("RE: re: Fwd: hello", "hello"),
        ("Fw: [list] Re: hello", "hello"),
        ("[list] Re: [other] Fw[x]: hello", "hello"),
        ("[list]", "[list]"),
        ("Re: [list]", "[list]"),
        ("hello (fwd)", "hello"),
        ("hello (FWD) (fwd)  ", "hello"),
        ("[fwd: Re: hello]", "hello"),
        ("[Fwd: [fwd: hello] (fwd)]", "hello"),
        ("  many\t  spaces\r\n folded ", "many spaces folded"),
        ("=?UTF-8?Q?Re:_Gr=C3=BC=C3=9Fe?=", "Grüße"),
        ("Reply to this", "Reply to this"),
        ("Re:", ""),
        ("", ""),
    ])
    func baseSubject(_ c: (String, String)) {
        #expect(SortOrder.baseSubject(c.0) == c.1)
    }

    static func message(_ uid: UInt32, seconds: Int64, size: Int) -> SelectedMailbox.Message {
        let info = MailboxInfo(id: MailboxID(1), user: UserID(1), name: "INBOX", uidValidity: 1, uidNext: uid + 1, highestModSeq: 1,
                               specialUse: nil, subscribed: true, selectable: true, messageCount: 1, unseenCount: 0,
                               deletedCount: 0, totalSize: 0)
        let box = SelectedMailbox(info: info, messages: [MessageSummary(uid: uid, modSeq: 1, flags: .none,
                                                                        internalDate: InternalDate(seconds: seconds), size: size)],
                                  readOnly: true, recent: [])
        return box.messages[0]
    }

    static func header(_ text: String) -> LoadedMessage { LoadedMessage(bytes: Array((text + "\r\n").utf8)) }

    /// Each criterion in turn, REVERSE flipping only its own, ties by sequence number; DATE
    /// falls back to the arrival time; addresses compare by mailbox (local part) without case.
    @Test func order() {
        let items: [(SelectedMailbox.Message, LoadedMessage)] = [
            (Self.message(1, seconds: 300, size: 10), Self.header("From: Zed <b@x.test>\r\nSubject: Re: beta\r\nDate: Tue, 1 Feb 1994 10:00:00 +0000")),
            (Self.message(2, seconds: 100, size: 30), Self.header("From: \"Amy\" <c@x.test>\r\nSubject: alpha\r\nDate: Tue, 1 Feb 1994 09:00:00 -0200")),
            (Self.message(3, seconds: 200, size: 20), Self.header("From: A@x.test\r\nSubject: [list] Beta")),
            (Self.message(4, seconds: 200, size: 20), Self.header("Subject: gamma")),
        ]
        func sorted(_ criteria: [SortCriterion]) -> [UInt32] {
            items.enumerated().map { i, item in
                (uid: item.0.uid, sort: (seq: i + 1, values: SortOrder.values(criteria, message: item.0, header: item.1)))
            }.sorted { SortOrder.precedes($0.sort, $1.sort, criteria) }.map(\.uid)
        }
        #expect(sorted([SortCriterion(.arrival)]) == [2, 3, 4, 1])
        #expect(sorted([SortCriterion(.arrival, reverse: true)]) == [1, 3, 4, 2], "equal arrivals stay in sequence order")
        #expect(sorted([SortCriterion(.size), SortCriterion(.arrival, reverse: true)]) == [1, 3, 4, 2])
        // Message 2's Date is 11:00 UTC, after message 1's 10:00; 3 and 4 have none: arrival.
        #expect(sorted([SortCriterion(.date)]) == [3, 4, 1, 2])
        #expect(sorted([SortCriterion(.subject)]) == [2, 1, 3, 4])
        #expect(sorted([SortCriterion(.from)]) == [4, 3, 1, 2], "no From sorts first; a < b < c ignoring case")
        #expect(sorted([SortCriterion(.displayFrom)]) == [4, 3, 2, 1], "\"\" < A@x.test < Amy < Zed")
    }
}
