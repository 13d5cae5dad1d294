import NIOCore

/// IPv4 and IPv6 address literals, compared in one canonical spelling.
enum IPLiteral {
    /// The canonical text of an address literal (brackets allowed), nil for a host name.
    static func canonical(_ text: String) -> String? {
        let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        return (try? SocketAddress(ipAddress: bare, port: 0))?.ipAddress
    }

    static func isUnspecified(_ canonical: String) -> Bool { canonical == "0.0.0.0" || canonical == "::" }

    static func isLoopback(_ canonical: String) -> Bool { canonical.hasPrefix("127.") || canonical == "::1" }
}
