/// The one closed set of storage failures (DESIGN.md §5.6). Each protocol maps these to its own
/// replies: IMAP `NO [NONEXISTENT]`, `NO [ALREADYEXISTS]`, `NO [OVERQUOTA]`; SMTP/LMTP
/// `552 5.2.2` for over quota and `451 4.3.0` for temporary failures; POP3 `-ERR [SYS/TEMP]`.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The mailbox (or message) does not exist.
    case notFound(String)
    /// A mailbox with that name already exists.
    case exists(String)
    /// The user's quota would be exceeded (RFC 9208 §4.2 OVERQUOTA).
    case overQuota(limit: Int64, used: Int64, needed: Int64)
    /// The message was expunged meanwhile (RFC 2180 §4.1).
    case expunged
    /// A mailbox name that can never be valid (empty component, wildcard, control character).
    case invalidName(String, reason: String)
    /// An operation that is never allowed on this mailbox (deleting INBOX, selecting \Noselect).
    case notPermitted(String)
    /// A message larger than the store accepts.
    case tooLarge(limit: Int)
    /// Anything else: worth retrying, logged in full for the admin.
    case temporary(String)

    public var description: String {
        switch self {
        case .notFound(let what): "not found: \(what)"
        case .exists(let what): "already exists: \(what)"
        case .overQuota(let limit, let used, let needed): "over quota: \(used) of \(limit) used, \(needed) more needed (bytes or messages)"
        case .expunged: "message was expunged"
        case .invalidName(let name, let reason): "invalid mailbox name '\(name)': \(reason)"
        case .notPermitted(let why): "not permitted: \(why)"
        case .tooLarge(let limit): "message larger than \(limit) bytes"
        case .temporary(let why): "temporary storage failure: \(why)"
        }
    }
}
