import Crypto
import Logging
import MailAuth
import MailCore
import MailQueue
import MailStore

extension MessageAcceptance {
    /// What an acceptance with several commit targets records, and what it skips because an
    /// earlier attempt of the same transaction committed it (`AcceptanceLedger`).
    struct RetryPlan {
        /// nil when the acceptance is one commit, which is atomic and needs no record.
        var mark: AcceptanceMark?
        var committed: Set<AcceptanceTarget> = []

        func skips(_ target: AcceptanceTarget) -> Bool { committed.contains(target) }
    }

    static func retryPlan(_ message: [UInt8], transaction: SMTPSession.Transaction, accounts: [Account], queueing: Bool,
                          services: SMTPServices, logger: Logger) async -> RetryPlan {
        var targets = Set(accounts.map { AcceptanceTarget.account($0.id.rawValue) })
        if queueing { targets.insert(.queue) }
        guard targets.count > 1 else { return RetryPlan() }
        let fingerprint = fingerprint(sender: transaction.sender, recipients: transaction.recipients.map(\.address), message: message)
        var entries: [AcceptanceEntry] = []
        do {
            if queueing { entries += try await services.queue.acceptanceEntries(fingerprint: fingerprint) }
            if !accounts.isEmpty { entries += try await services.store.acceptanceEntries(fingerprint: fingerprint) }
        } catch {
            // Without the record a retry may deliver twice, as it did before there was one;
            // it never delivers less.
            logger.warning("acceptance record unreadable", metadata: ["error": "\(error)"])
            entries = []
        }
        let committed = AcceptanceLedger.alreadyCommitted(entries, targets: targets)
        let carried = committed.sorted { $0.description < $1.description }
        if !committed.isEmpty {
            logger.info("retry of a partly committed attempt: skipping what it committed", metadata: ["committed": "\(carried)"])
        }
        return RetryPlan(mark: AcceptanceMark(fingerprint: fingerprint, attempt: transaction.queueID.rawValue, carried: carried),
                         committed: committed)
    }

    /// SHA-256 of the envelope and the message as the client sent it (without our `Received:`
    /// field, which names this attempt's queue ID), so a retry of the transaction matches.
    static func fingerprint(sender: String, recipients: [String], message: [UInt8]) -> [UInt8] {
        var hash = SHA256()
        // Lengths first, so that no two envelopes encode alike.
        let fields = [sender] + recipients.sorted()
        hash.update(data: Array("\(fields.count)\0".utf8))
        for field in fields { hash.update(data: Array("\(field.utf8.count):\(field)\0".utf8)) }
        hash.update(data: message)
        return Array(hash.finalize())
    }
}
