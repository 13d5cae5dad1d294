import MailAuth
import Synchronization

/// What changed in the store. Subscribers re-read what they need; the event only says where.
public struct StoreChange: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case messagesAdded, flagsChanged, messagesExpunged, mailboxesChanged
    }
    public let user: UserID
    /// nil when the change is not about one mailbox (a mailbox created, renamed or deleted).
    public let mailbox: MailboxID?
    public let kind: Kind

    public init(user: UserID, mailbox: MailboxID?, kind: Kind) {
        self.user = user; self.mailbox = mailbox; self.kind = kind
    }
}

/// A broadcast of `StoreChange`s to any number of subscribers (IMAP sessions in IDLE).
///
/// Each subscriber gets its own bounded buffer: a subscriber that does not keep up loses the
/// oldest events, never blocks the writer. Losing events is safe because an event only tells a
/// session to re-read its mailbox state.
public final class ChangeFeed: Sendable {
    /// Events buffered per subscriber before the oldest are dropped.
    public static let bufferPerSubscriber = 64

    private struct State {
        var next = 0
        var subscribers: [Int: (user: UserID?, continuation: AsyncStream<StoreChange>.Continuation)] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// Events for one user, or for everyone when `user` is nil. The stream ends when the
    /// consumer stops iterating it (or its task is cancelled).
    public func subscribe(user: UserID?) -> AsyncStream<StoreChange> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: StoreChange.self, bufferingPolicy: .bufferingNewest(Self.bufferPerSubscriber))
        let id = state.withLock { s in
            s.next += 1
            s.subscribers[s.next] = (user, continuation)
            return s.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func publish(_ change: StoreChange) {
        let targets = state.withLock { s in
            s.subscribers.values.filter { $0.user == nil || $0.user == change.user }.map(\.continuation)
        }
        for c in targets { c.yield(change) }
    }
}
