import Foundation
import MailCore
import MailQueue

/// RFC 3464 reports to a queued message's sender, queued with the null sender: never to the
/// null sender (RFC 5321 §6.1), and only for recipients whose NOTIFY asks for them (RFC 3461
/// §4.1; without NOTIFY, failures and delays are reported).
public enum Bounces {
    /// The failure report for `failed` recipients, or nil when none is owed.
    public static func failure(_ message: QueuedMessage, failed: [QueuedMessage.Recipient], hostname: String) -> QueuedMessage? {
        report(message, recipients: failed, action: .failed, keyword: "FAILURE", hostname: hostname)
    }

    /// The "still trying" report for `delayed` recipients, or nil when none is owed.
    public static func delay(_ message: QueuedMessage, delayed: [QueuedMessage.Recipient], hostname: String) -> QueuedMessage? {
        report(message, recipients: delayed, action: .delayed, keyword: "DELAY", hostname: hostname)
    }

    /// Whether `recipient`'s NOTIFY asks for reports of this kind.
    public static func wants(_ recipient: QueuedMessage.Recipient, _ keyword: String) -> Bool {
        guard let notify = recipient.notify?.uppercased() else { return true }
        return notify.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == keyword }
    }

    private static func report(_ message: QueuedMessage, recipients: [QueuedMessage.Recipient], action: DeliveryStatusNotification.Action,
                               keyword: String, hostname: String) -> QueuedMessage? {
        guard !message.sender.isEmpty else { return nil }
        let notify = recipients.filter { wants($0, keyword) }
        guard !notify.isEmpty else { return nil }
        let report = DeliveryStatusNotification(
            reportingMTA: hostname, to: message.sender, envelopeID: message.envelopeID, arrival: message.arrival,
            recipients: notify.map { r in
                DeliveryStatusNotification.Recipient(
                    address: r.address, originalRecipient: r.originalRecipient, action: action,
                    status: DeliveryStatusNotification.status(from: r.lastError ?? "", permanent: action == .failed),
                    diagnostic: r.lastError)
            },
            original: message.bytes, returnFull: action == .failed && message.returnFull)
        return QueuedMessage(id: QueueID.make(), sender: "", recipients: [QueuedMessage.Recipient(address: message.sender)],
                             bytes: report.message())
    }
}
