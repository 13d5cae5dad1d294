import NIOCore

/// "Myself" for routing (RFC 5321 §5.1): our host name and the addresses our SMTP (MX receive)
/// listeners are bound to. Mail sent to a next hop that is this host comes straight back to the
/// queue, for ever; Postfix calls it "mail for DOMAIN loops back to myself".
public struct LocalHost: Sendable {
    public var hostname: String
    /// The bound `listen.smtp` addresses (after binding: port 0 has become the real port).
    public var listeners: [SocketAddress]
    /// This machine's interface addresses, asked only when a listener is bound to 0.0.0.0 or ::.
    let interfaceAddresses: @Sendable () -> [String]

    public init(hostname: String, listeners: [SocketAddress] = [],
                interfaceAddresses: @escaping @Sendable () -> [String] = LocalHost.systemInterfaceAddresses) {
        self.hostname = hostname
        self.listeners = listeners
        self.interfaceAddresses = interfaceAddresses
    }

    /// An MX host is myself when its name is our host name or one of its addresses is where a
    /// listener of ours is bound. Addresses only, as Postfix compares them: every MX is port 25.
    public func isMyself(mailHost: MailHost) -> Bool {
        isMyself(name: mailHost.name) || mailHost.addresses.contains { isListening(on: $0, port: nil) }
    }

    /// A fixed next hop (`[transport]`, smarthost) is myself when one of our listeners is on that
    /// port at that address (or, given as a name, when the name is ours).
    public func isMyself(host: String, port: Int) -> Bool {
        guard IPLiteral.canonical(host) != nil else { return isMyself(name: host) && listeners.contains { $0.port == port } }
        return isListening(on: host, port: port)
    }

    func isMyself(name: String) -> Bool {
        Self.trimmed(name) == Self.trimmed(hostname)
    }

    private static func trimmed(_ name: String) -> String {
        (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased()
    }

    private func isListening(on address: String, port: Int?) -> Bool {
        guard let ip = IPLiteral.canonical(address) else { return false }
        for listener in listeners where port == nil || listener.port == port {
            guard let bound = listener.ipAddress.flatMap(IPLiteral.canonical) else { continue }
            if bound == ip { return true }
            if IPLiteral.isUnspecified(bound) && isLocalInterface(ip) { return true }
        }
        return false
    }

    /// All of 127.0.0.0/8 and ::1 are this host, configured on an interface or not.
    private func isLocalInterface(_ ip: String) -> Bool {
        IPLiteral.isLoopback(ip) || interfaceAddresses().contains { IPLiteral.canonical($0) == ip }
    }

    @Sendable public static func systemInterfaceAddresses() -> [String] {
        ((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipAddress }
    }
}
