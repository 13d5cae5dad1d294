#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Who "one client" is, for per-client limits (connections, authentication failures).
///
/// IPv4 addresses count one by one. IPv6 addresses count by their /64 prefix: a /64 is the
/// smallest block handed to a network (RFC 4291 §2.5.1 reserves the low 64 bits for the
/// interface identifier, RFC 8981 has hosts rotate them freely), so one attacker can use 2^64
/// addresses at no cost and per-address counting would give each a fresh budget. Every
/// spelling of an address (`::` compression, leading zeros, upper case) gives the same key.
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) count as the IPv4 address. Brackets and a
/// zone (`%eth0`) are ignored. Anything that is not an IP address (e.g. a Unix socket path)
/// is used verbatim.
public enum ClientKey {
    /// Bits of an IPv6 address that identify a client.
    public static let ipv6PrefixBits = 64

    public static func of(_ client: String) -> String {
        var text = Substring(client)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        let address = String(text)

        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, address, &v4) == 1 {
            return v4.map(String.init).joined(separator: ".")
        }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, address, &v6) == 1 {
            if v6[0..<10].allSatisfy({ $0 == 0 }) && v6[10] == 0xFF && v6[11] == 0xFF {
                return v6[12..<16].map(String.init).joined(separator: ".")
            }
            var groups: [String] = []
            for index in stride(from: 0, to: ipv6PrefixBits / 8, by: 2) {
                groups.append(String(UInt16(v6[index]) << 8 | UInt16(v6[index + 1]), radix: 16))
            }
            return groups.joined(separator: ":") + "::/\(ipv6PrefixBits)"
        }
        return client
    }
}
