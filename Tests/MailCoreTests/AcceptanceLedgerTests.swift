import MailCore
import Testing

@Suite struct AcceptanceLedgerTests {
    static let a = AcceptanceTarget.account(1), b = AcceptanceTarget.account(2), q = AcceptanceTarget.queue

    static func entries(_ list: [(AcceptanceTarget, String)]) -> [AcceptanceEntry] {
        list.map { AcceptanceEntry(target: $0.0, attempt: $0.1) }
    }

    @Test func nothingRecordedSkipsNothing() {
        #expect(AcceptanceLedger.alreadyCommitted([], targets: [Self.a, Self.q]) == [])
    }

    @Test func aPartlyCommittedLatestAttemptIsSkipped() {
        let recorded = Self.entries([(Self.q, "0001"), (Self.a, "0001")])
        #expect(AcceptanceLedger.alreadyCommitted(recorded, targets: [Self.a, Self.b, Self.q]) == [Self.a, Self.q])
    }

    /// A complete attempt was answered 250: the same bytes again are a new message.
    @Test func aCompleteLatestAttemptSkipsNothing() {
        let recorded = Self.entries([(Self.q, "0001"), (Self.a, "0001"), (Self.b, "0001")])
        #expect(AcceptanceLedger.alreadyCommitted(recorded, targets: [Self.a, Self.b, Self.q]) == [])
    }

    /// Only the latest attempt counts: a retry that completed carried the first attempt's
    /// targets, so its record is complete on its own.
    @Test func onlyTheLatestAttemptCounts() {
        let afterRetry = Self.entries([(Self.q, "0001"), (Self.a, "0002"), (Self.b, "0002"), (Self.q, "0002")])
        #expect(AcceptanceLedger.alreadyCommitted(afterRetry, targets: [Self.a, Self.b, Self.q]) == [])
        // A new send after that one whose queueing failed: its store commit is the latest.
        let newSend = Self.entries([(Self.q, "0002"), (Self.a, "0003"), (Self.b, "0003")])
        #expect(AcceptanceLedger.alreadyCommitted(newSend, targets: [Self.a, Self.b, Self.q]) == [Self.a, Self.b])
    }

    @Test func targetsNoLongerWantedAreNotSkipped() {
        let recorded = Self.entries([(Self.a, "0001"), (.account(9), "0001")])
        #expect(AcceptanceLedger.alreadyCommitted(recorded, targets: [Self.a, Self.b]) == [Self.a])
    }

    @Test func targetsRoundTripThroughTheirStoredForm() {
        for target in [Self.q, Self.a, AcceptanceTarget.account(Int64.max)] {
            #expect(AcceptanceTarget(target.description) == target)
        }
        #expect(AcceptanceTarget("account:x") == nil)
        #expect(AcceptanceTarget("mailbox:1") == nil)
    }
}
