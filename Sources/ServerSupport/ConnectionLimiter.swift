import Synchronization

/// Bounds concurrent connections per client address (DESIGN.md §4 "connections per IP"), like
/// Postfix's anvil `smtpd_client_connection_count_limit`. IPv6 clients count per /64.
public final class ConnectionLimiter: Sendable {
    public let limitPerClient: Int
    private let counts = Mutex<[String: Int]>([:])

    public init(limitPerClient: Int) {
        self.limitPerClient = limitPerClient
    }

    /// Takes a slot for `client`; false when it already has `limitPerClient` connections.
    public func acquire(_ client: String) -> Bool {
        let key = Self.key(client)
        return counts.withLock { c in
            let n = c[key, default: 0]
            guard n < limitPerClient else { return false }
            c[key] = n + 1
            return true
        }
    }

    public func release(_ client: String) {
        let key = Self.key(client)
        counts.withLock { c in
            let n = c[key, default: 0] - 1
            c[key] = n > 0 ? n : nil
        }
    }

    public func count(_ client: String) -> Int { counts.withLock { $0[Self.key(client), default: 0] } }

    /// One IPv6 end site usually holds a whole /64, so that is what one client is.
    static func key(_ client: String) -> String {
        guard client.contains(":") else { return client }
        let groups = client.split(separator: ":", omittingEmptySubsequences: false)
        if client.contains("::") { return client }  // compressed forms: count the exact address
        return groups.prefix(4).joined(separator: ":")
    }
}
