import MailStore
import Synchronization

/// Who gets `\Recent` (RFC 3501 §2.3.2: "this session is the first session to have been
/// notified about this message"), tracked per process.
///
/// For each mailbox the tracker remembers the highest UID some session of this process has
/// claimed. A read-write session (SELECT) that learns of messages above it claims them: they
/// are \Recent in that session only. EXAMINE and STATUS look without claiming. UIDs only grow
/// within a UIDVALIDITY, so one number per mailbox is all the state there is.
///
/// One tracker per server process, shared by its IMAP listeners (`IMAPServices.recent`).
///
/// Honest limits, documented: the state is not persisted, so after a restart the first
/// session to select a mailbox sees every message in it as \Recent; and several server
/// processes on one database (PostgreSQL deployments) each hand out \Recent once.
/// IMAP4rev2 removed \Recent altogether (RFC 9051 Appendix E).
public final class RecentTracker: Sendable {
    public init() {}

    private let claimed = Mutex<[MailboxID: UInt32]>([:])

    /// Claims the UIDs above the mailbox's high-water mark; returns those this caller got.
    func claim(_ mailbox: MailboxID, uids: [UInt32]) -> Set<UInt32> {
        guard let top = uids.max() else { return [] }
        return claimed.withLock { table in
            let mark = table[mailbox] ?? 0
            guard top > mark else { return [] }
            table[mailbox] = top
            return Set(uids.filter { $0 > mark })
        }
    }

    /// The UIDs that would be \Recent for a new session, without claiming them.
    func peek(_ mailbox: MailboxID, uids: [UInt32]) -> Set<UInt32> {
        let mark = claimed.withLock { $0[mailbox] ?? 0 }
        return Set(uids.filter { $0 > mark })
    }

    /// The high-water mark (for STATUS, which counts messages above it).
    func mark(_ mailbox: MailboxID) -> UInt32 {
        claimed.withLock { $0[mailbox] ?? 0 }
    }
}
