import MailAuth
import MailCore

/// The mailbox store, designed for IMAP from the start (RFC 9051, RFC 7162 CONDSTORE/QRESYNC,
/// RFC 4315 UIDPLUS): per user a tree of mailboxes with UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ, per
/// message UID, MODSEQ, flags, INTERNALDATE, size and the exact bytes.
///
/// Transactions: every method is one explicit, atomic transaction; nothing a method does is
/// visible to other sessions until it has committed, and it commits durably (fsync'd) before it
/// returns. `deliver(_:)` takes many messages in one transaction so that local delivery can
/// commit a whole batch with one fsync (group commit, DESIGN.md §4).
///
/// Mailbox names use `/` as the hierarchy delimiter; `INBOX` is case-insensitive (RFC 9051 §5.1).
public protocol MailStore: Sendable {
    // MARK: Mailboxes

    /// INBOX and the special-use mailboxes, created when missing. Idempotent.
    func prepareAccount(_ user: UserID) async throws(StoreError)
    func listMailboxes(_ user: UserID) async throws(StoreError) -> [MailboxInfo]
    func mailbox(_ user: UserID, named name: String) async throws(StoreError) -> MailboxInfo
    func mailbox(id: MailboxID) async throws(StoreError) -> MailboxInfo
    /// Creates missing parents too (RFC 9051 §6.3.4 "SHOULD create any superior hierarchical names").
    @discardableResult
    func createMailbox(_ user: UserID, named name: String, specialUse: SpecialUse?) async throws(StoreError) -> MailboxInfo
    /// A mailbox with children keeps its name as `\Noselect` (RFC 9051 §6.3.5); INBOX cannot go.
    func deleteMailbox(_ user: UserID, named name: String) async throws(StoreError)
    /// Renames children too; renaming INBOX moves its messages to the new name and leaves INBOX
    /// empty (RFC 9051 §6.3.6).
    func renameMailbox(_ user: UserID, from: String, to: String) async throws(StoreError)
    /// Subscribing to a name that does not exist is allowed (RFC 9051 §6.3.7).
    func setSubscribed(_ user: UserID, named name: String, _ subscribed: Bool) async throws(StoreError)
    /// Subscribed names, existing or not (LSUB, LIST (SUBSCRIBED)).
    func listSubscriptions(_ user: UserID) async throws(StoreError) -> [String]

    // MARK: Messages

    func append(_ user: UserID, to mailbox: String, _ message: NewMessage) async throws(StoreError) -> AppendResult
    /// Appends all of `messages` to one mailbox, all or nothing (imports, multi-APPEND RFC 3502).
    func appendAll(_ user: UserID, to mailbox: String, _ messages: [NewMessage]) async throws(StoreError) -> [AppendResult]
    /// Local delivery of many messages in one transaction; each succeeds or fails on its own
    /// (one user's full quota does not fail another's delivery). A delivery with an acceptance
    /// mark records its account as committed when it succeeds; the mark's carried targets are
    /// recorded when any delivery with that mark succeeds.
    func deliver(_ deliveries: [Delivery]) async throws(StoreError) -> [Result<AppendResult, StoreError>]
    /// What `deliver` recorded under this fingerprint (`AcceptanceLedger`), within its retention.
    func acceptanceEntries(fingerprint: [UInt8]) async throws(StoreError) -> [AcceptanceEntry]
    /// Metadata of the messages whose UIDs are in `uids`, in UID order.
    func messages(in mailbox: MailboxID, uids: UIDSet) async throws(StoreError) -> [MessageSummary]
    /// Messages whose MODSEQ is greater than `modSeq` (RFC 7162 CHANGEDSINCE).
    func messages(in mailbox: MailboxID, changedSince modSeq: UInt64) async throws(StoreError) -> [MessageSummary]
    /// UIDs expunged after `modSeq` (RFC 7162 §3.2.5 VANISHED (EARLIER)).
    func expungedUIDs(in mailbox: MailboxID, since modSeq: UInt64) async throws(StoreError) -> [UInt32]
    /// What changed in a mailbox after `modSeq`, read in one snapshot (a selected mailbox's
    /// resync: three separate reads could disagree when a writer commits between them).
    func sync(_ mailbox: MailboxID, since modSeq: UInt64) async throws(StoreError) -> MailboxSync
    /// The message's exact bytes; `.expunged` when it is gone.
    func messageBytes(in mailbox: MailboxID, uid: UInt32) async throws(StoreError) -> [UInt8]
    /// Several messages' bytes in one read (FETCH and SEARCH over ranges); expunged ones are
    /// absent from the result.
    func messageBytes(in mailbox: MailboxID, uids: UIDSet) async throws(StoreError) -> [UInt32: [UInt8]]
    /// Like `messageBytes(in:uids:)`, but only each message's header section (through the
    /// blank line that ends it; all of it when there is none): header searches need no body.
    func messageHeaders(in mailbox: MailboxID, uids: UIDSet) async throws(StoreError) -> [UInt32: [UInt8]]
    func setFlags(in mailbox: MailboxID, uids: UIDSet, _ operation: FlagOperation, _ flags: MessageFlags,
                  unchangedSince: UInt64?) async throws(StoreError) -> FlagUpdateResult
    func copy(from mailbox: MailboxID, uids: UIDSet, to destination: String) async throws(StoreError) -> CopyResult
    /// COPY and EXPUNGE of the source in one transaction (RFC 6851 §3.1).
    func move(from mailbox: MailboxID, uids: UIDSet, to destination: String) async throws(StoreError) -> CopyResult
    /// Removes the `\Deleted` messages among `uids` (all of them when nil); returns their UIDs.
    func expunge(in mailbox: MailboxID, uids: UIDSet?) async throws(StoreError) -> [UInt32]

    // MARK: Accounting and notification

    func quotaUsage(_ user: UserID) async throws(StoreError) -> QuotaUsage
    /// The usage when it has just reached `percent` of a limit and the user was not yet warned
    /// (marking them warned, so the warning goes out once); nil otherwise. Usage back below
    /// `percent` re-arms the warning.
    func claimQuotaWarning(_ user: UserID, percent: Int) async throws(StoreError) -> QuotaUsage?
    /// Changes made by this process and, within a poll interval, by other processes on the same
    /// database (the CLI importing into a running server). IMAP IDLE waits on this.
    var changes: ChangeFeed { get }
}

extension MailStore {
    /// Every message of a mailbox, in UID order.
    public func allMessages(in mailbox: MailboxID) async throws(StoreError) -> [MessageSummary] {
        try await messages(in: mailbox, uids: .all)
    }
}
