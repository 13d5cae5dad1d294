import Foundation
import Logging
import MailAuth
import MailCore
import MailQueue
import MailStore
import Metrics
import Sieve
import Synchronization

/// Runs each recipient's active Sieve script at delivery (RFC 5228) and carries out what it
/// decided that is not a mailbox copy: redirects and vacation replies go through the outbound
/// queue, a reject after acceptance becomes a delivery status report to the sender.
///
/// Redirects keep the original envelope sender (no SRS rewriting): a receiver that checks SPF
/// on the redirected copy sees our address for the sender's domain. The message keeps its
/// `Delivered-To:` lines, so a redirect that comes back to an account it already passed is
/// kept instead of sent round again.
public struct SieveFiltering: Sendable {
    let scripts: any SieveScriptStore
    let store: any MailStore
    let queue: OutboundQueue
    let hostname: String
    /// The administrator's script run before each user's (`[sieve] before`, like Dovecot's
    /// `sieve_before`): its `stop` ends the sequence, and its cancelling of the implicit keep
    /// (a `fileinto "Junk"`) holds for the user's script too.
    let before: SieveScript?
    private let cache = ScriptCache()

    public init(scripts: any SieveScriptStore, store: any MailStore, queue: OutboundQueue, hostname: String, before: SieveScript? = nil) {
        self.scripts = scripts
        self.store = store
        self.queue = queue
        self.hostname = hostname
        self.before = before
    }

    /// What one account's script decided.
    struct Plan: Sendable {
        /// Copies to store: nil mailbox is the keep (INBOX, or Junk for spam).
        var copies: [(mailbox: String?, flags: MessageFlags, create: Bool)] = []
        var redirects: [String] = []
        var vacation: SieveVacation?
        var reject: String?
    }

    /// The plan for `account`, nil when it has no active script (or it cannot be read: the
    /// message is then kept, as when a script fails). `foldersOnDemand`: the account's mail goes
    /// to files (`MailSpool`), where a folder is made by its first message, so every one exists.
    func plan(for account: Account, message: [UInt8], sender: String, recipient: String, foldersOnDemand: Bool = false,
              logger: Logger) async -> Plan? {
        var user: (name: String, script: SieveScript)?
        do {
            if let active = try await scripts.activeSieveScript(account.id) {
                user = (active.name, try cache.script(active.source))
            }
        } catch {
            logger.error("sieve: cannot use the active script; keeping", metadata: ["to": "\(account.address)", "error": "\(error)"])
        }
        guard before != nil || user != nil else { return nil }
        var mailboxes: Set<String> = []
        let required = (before?.required ?? []).union(user?.script.required ?? [])
        if !foldersOnDemand, required.contains("fileinto") || required.contains("mailbox") {
            mailboxes = Set(((try? await store.listMailboxes(account.id)) ?? []).map { MailboxName.normalize($0.name) })
        }
        let known = mailboxes
        let context = SieveContext(
            message: message, envelopeFrom: sender, envelopeTo: recipient, userAddresses: [account.address],
            localOffset: TimeZone.current.secondsFromGMT(), mailboxExists: { foldersOnDemand || known.contains(MailboxName.normalize($0)) })
        func run(_ script: SieveScript, _ name: String) -> SieveOutcome {
            let outcome = script.run(context)
            if let error = outcome.error {
                logger.warning("sieve: script failed; keeping", metadata: ["to": "\(account.address)", "script": "\(name)", "error": "\(error)"])
                Counter(label: "swallow_sieve_errors_total").increment()
            }
            return outcome
        }
        var outcome = before.map { run($0, "(before)") }
        if let user, outcome?.stopped != true {
            let second = run(user.script, user.name)
            outcome = outcome.map { Self.sequence($0, second) } ?? second
        }
        guard let outcome else { return nil }
        let scriptName = user?.name ?? "(before)"
        var plan = Plan()
        for action in outcome.actions {
            switch action {
            case .keep(let flags): plan.copies.append((nil, Self.flags(flags), false))
            case .fileinto(let mailbox, let flags, let create): plan.copies.append((mailbox, Self.flags(flags), create))
            case .redirect(let address):
                if Self.passedThrough(message, address) {
                    logger.warning("sieve: redirect loop; keeping instead", metadata: ["to": "\(account.address)", "redirect": "\(address)"])
                    if !plan.copies.contains(where: { $0.mailbox == nil }) { plan.copies.append((nil, .none, false)) }
                } else {
                    plan.redirects.append(address)
                }
            case .reject(let reason, _): plan.reject = reason
            case .vacation(let reply): plan.vacation = reply
            }
        }
        logger.info("sieve", metadata: ["to": "\(account.address)", "script": "\(scriptName)",
                                        "actions": "\(outcome.actions.map(Self.describe).joined(separator: ", "))"])
        return plan
    }

    /// Sends what the plan asks beyond the copies. `refused`: the reject was given to the
    /// client at the protocol level, so no report is sent.
    func carryOut(_ plan: Plan, account: Account, message: [UInt8], sender: String, refused: Bool, logger: Logger) async throws(QueueError) {
        var outgoing: [QueuedMessage] = []
        if !plan.redirects.isEmpty {
            outgoing.append(QueuedMessage(id: QueueID.make(), sender: sender,
                                          recipients: plan.redirects.map { QueuedMessage.Recipient(address: $0) }, bytes: message))
        }
        if let reply = plan.vacation {
            let first = (try? await scripts.claimVacationReply(account.id, handle: reply.handle, sender: reply.recipient.lowercased(),
                                                               period: reply.period)) ?? false
            if first {
                outgoing.append(QueuedMessage(id: QueueID.make(), sender: "", recipients: [QueuedMessage.Recipient(address: reply.recipient)],
                                              bytes: VacationMessage.make(reply, user: account.address, hostname: hostname)))
            } else {
                logger.info("sieve: vacation already answered this sender", metadata: ["to": "\(account.address)", "sender": "\(reply.recipient)"])
            }
        }
        if let reason = plan.reject, !refused {
            var failed = QueuedMessage.Recipient(address: account.address)
            failed.lastError = "5.7.1 rejected by the recipient's filter: \(reason)"
            let original = QueuedMessage(id: QueueID.make(), sender: sender, recipients: [failed], bytes: message)
            if let report = Bounces.failure(original, failed: [failed], hostname: hostname) { outgoing.append(report) }
        }
        guard !outgoing.isEmpty else { return }
        try await queue.enqueue(outgoing)
    }

    /// Two scripts run one after the other: the first's explicit actions, then the second's
    /// (the same copy once), and one implicit keep at the end only when neither cancelled it.
    static func sequence(_ first: SieveOutcome, _ second: SieveOutcome) -> SieveOutcome {
        var actions = first.implicitKeep ? Array(first.actions.dropLast()) : first.actions
        for action in (second.implicitKeep ? Array(second.actions.dropLast()) : second.actions) where !actions.contains(action) {
            actions.append(action)
        }
        let keep = first.implicitKeep && second.implicitKeep
        if keep, let last = second.actions.last, !actions.contains(last) { actions.append(last) }
        return SieveOutcome(actions: actions, implicitKeep: keep, stopped: second.stopped)
    }

    /// Whether the message already went through `address`'s mailbox here (a `Delivered-To:`).
    static func passedThrough(_ message: [UInt8], _ address: String) -> Bool {
        MessageHeader.fields(named: "Delivered-To", in: message).contains { $0.value.caseInsensitiveCompare(address) == .orderedSame }
    }

    /// RFC 5232 flags as the store keeps them: system flags by name, other atoms as keywords.
    static func flags(_ list: [String]) -> MessageFlags {
        var system: SystemFlags = []
        var keywords: [String] = []
        for flag in list {
            switch flag.lowercased() {
            case "\\seen": system.insert(.seen)
            case "\\answered": system.insert(.answered)
            case "\\flagged": system.insert(.flagged)
            case "\\deleted": system.insert(.deleted)
            case "\\draft": system.insert(.draft)
            default:
                // IMAP atoms only (RFC 9051 flag-keyword); anything else is dropped.
                let ok = !flag.hasPrefix("\\") && flag.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && !"(){%*\"\\]".utf8.contains($0) }
                if ok { keywords.append(flag) }
            }
        }
        return MessageFlags(system: system, keywords: keywords)
    }

    static func describe(_ action: SieveAction) -> String {
        switch action {
        case .keep: "keep"
        case .fileinto(let mailbox, _, _): "fileinto \(mailbox)"
        case .redirect(let address): "redirect \(address)"
        case .reject: "reject"
        case .vacation: "vacation"
        }
    }
}

/// Parsed scripts by their text: a script is parsed once, not at every delivery.
final class ScriptCache: Sendable {
    private let scripts = Mutex<[String: SieveScript]>([:])
    static let capacity = 1024

    func script(_ source: String) throws(SieveError) -> SieveScript {
        if let cached = scripts.withLock({ $0[source] }) { return cached }
        let script = try SieveScript(parsing: source)
        scripts.withLock {
            if $0.count >= Self.capacity { $0.removeAll() }
            $0[source] = script
        }
        return script
    }
}

/// The vacation reply (RFC 5230 §5, RFC 3834 §3): from the user, to the sender, marked
/// `Auto-Submitted: auto-replied`, threaded to the original.
enum VacationMessage {
    static func make(_ reply: SieveVacation, user: String, hostname: String, now: Date = Date()) -> [UInt8] {
        // A script's strings may hold line ends: never let them start a header field of their own.
        func field(_ s: String) -> String { String(s.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 }) }
        var lines: [String] = []
        lines.append("From: \(field(reply.from ?? "<\(user)>"))")
        lines.append("To: <\(field(reply.recipient))>")
        lines.append("Subject: \(EncodedWord.encode(field(reply.subject)))")
        lines.append("Date: \(RFC5322Date.format(now))")
        lines.append("Message-ID: <\(UUID().uuidString.lowercased())@\(hostname)>")
        if let original = reply.inReplyTo {
            lines.append("In-Reply-To: \(original)")
            lines.append("References: \(original)")
        }
        lines.append("Auto-Submitted: auto-replied")
        lines.append("MIME-Version: 1.0")
        let body = LineEndings.toCRLF(Array(reply.reason.utf8))
        if reply.mime {
            // :mime: the reason is a MIME entity with its own header section.
            return Array((lines.joined(separator: "\r\n") + "\r\n").utf8) + body
        }
        let ascii = body.allSatisfy { $0 < 0x80 }
        lines.append("Content-Type: text/plain; charset=utf-8")
        lines.append("Content-Transfer-Encoding: \(ascii ? "7bit" : "base64")")
        let text = ascii ? body : Array(Data(body).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed]).utf8)
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + text + (text.last == 10 ? [] : [13, 10])
    }
}
