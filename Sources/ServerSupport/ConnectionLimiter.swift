import MailCore
import Synchronization

/// Bounds concurrent connections (DESIGN.md §4 "connections per IP"): per client, like
/// Postfix's anvil `smtpd_client_connection_count_limit`, and in total, so that no flood of
/// addresses can exhaust file descriptors. One limiter serves every listener of the process.
/// A client is a `ClientKey`: an IPv4 address, or an IPv6 /64 however it is written.
public final class ConnectionLimiter: Sendable {
    public enum Admission: Sendable, Equatable {
        case admitted
        case tooManyFromClient
        case tooManyInTotal
    }

    public let limitPerClient: Int
    public let limitTotal: Int
    private struct Counts {
        var perClient: [String: Int] = [:]
        var total = 0
    }
    private let counts = Mutex(Counts())

    public init(limitPerClient: Int, limitTotal: Int) {
        self.limitPerClient = limitPerClient
        self.limitTotal = limitTotal
    }

    /// Takes a slot for `client`, or says which limit it hit.
    public func acquire(_ client: String) -> Admission {
        let key = ClientKey.of(client)
        return counts.withLock { c in
            guard c.total < limitTotal else { return .tooManyInTotal }
            let n = c.perClient[key, default: 0]
            guard n < limitPerClient else { return .tooManyFromClient }
            c.perClient[key] = n + 1
            c.total += 1
            return .admitted
        }
    }

    public func release(_ client: String) {
        let key = ClientKey.of(client)
        counts.withLock { c in
            guard let n = c.perClient[key] else { return }
            c.perClient[key] = n > 1 ? n - 1 : nil
            c.total -= 1
        }
    }

    public var total: Int { counts.withLock { $0.total } }
}
