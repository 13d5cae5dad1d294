import Foundation
import Logging
import MailAuth
import MailCore
import MailStore
import Metrics

/// Tells a user, once, that delivery took their account near a limit: a message in their
/// INBOX, as Dovecot's `quota_warning` script does with `dovecot-lda`. It goes straight into
/// the store, not through the queue: it must not be refused by the Sieve script or the spam
/// filter, and it is not mail from anyone. Usage falling back below the threshold (expunges, a
/// raised quota) re-arms it.
public struct QuotaWarning: Sendable {
    let store: any MailStore
    /// Share of a limit, in percent, at which the warning goes out (`[quota] warning_percent`).
    let percent: Int
    let hostname: String

    public init(store: any MailStore, percent: Int, hostname: String) {
        self.store = store
        self.percent = percent
        self.hostname = hostname
    }

    /// After a delivery to `account`: warns when it has just crossed the threshold.
    func check(_ account: Account, logger: Logger) async {
        guard percent > 0, account.hasQuota else { return }
        do {
            guard let usage = try await store.claimQuotaWarning(account.id, percent: percent) else { return }
            let message = Self.message(to: account.address, usage: usage, hostname: hostname)
            let delivery = Delivery(user: account.id, mailbox: "INBOX", specialUse: nil,
                                    message: NewMessage(prefix: [], body: MessageBody(message), flags: MessageFlags(),
                                                        internalDate: InternalDate(seconds: Int64(Date().timeIntervalSince1970))))
            if case .failure(let error) = try await store.deliver([delivery])[0] {
                // At 100 % the warning itself may not fit: the log says so instead.
                logger.warning("quota warning not delivered", metadata: ["to": "\(account.address)", "error": "\(error)"])
                return
            }
            Counter(label: "swallow_quota_warnings_total").increment()
            logger.notice("quota warning delivered", metadata: ["to": "\(account.address)", "used_percent": "\(usage.percentUsed)"])
        } catch {
            logger.warning("quota warning check failed", metadata: ["to": "\(account.address)", "error": "\(error)"])
        }
    }

    /// The warning (RFC 3834 §5: `Auto-Submitted: auto-generated`, so no vacation answers it).
    static func message(to address: String, usage: QuotaUsage, hostname: String, now: Date = Date()) -> [UInt8] {
        var lines = [
            "From: Mail Delivery System <postmaster@\(hostname)>",
            "To: <\(address)>",
            "Subject: Your mailbox is \(usage.percentUsed)% full",
            "Date: \(RFC5322Date.format(now))",
            "Message-ID: <quota.\(UUID().uuidString.lowercased())@\(hostname)>",
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=us-ascii",
            "",
            "Your mailbox \(address) is \(usage.percentUsed)% full:",
            "",
        ]
        if usage.limitBytes > 0 { lines.append("  storage:  \(usage.bytes) of \(usage.limitBytes) bytes") }
        if usage.limitMessages > 0 { lines.append("  messages: \(usage.messages) of \(usage.limitMessages)") }
        lines += ["", "When it is full, new mail is refused. Delete or archive messages you no longer",
                  "need (and empty the Trash) to make room.", ""]
        return Array(lines.joined(separator: "\r\n").utf8)
    }
}
