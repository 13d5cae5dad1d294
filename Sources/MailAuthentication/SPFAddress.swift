/// An IP address as SPF sees it: the client's `<ip>` (RFC 7208 §4.1), the network of an `ip4:` or
/// `ip6:` mechanism (§5.6), or an A/AAAA answer. Our own small parser, so MailAuthentication needs
/// no networking target.
enum SPFAddress: Sendable, Hashable {
    case v4(UInt32)
    /// The 128 bits as two halves, most significant first.
    case v6(high: UInt64, low: UInt64)

    /// The client address: IPv4 dotted quad or any RFC 4291 §2.2 IPv6 text form, optionally in
    /// brackets or with a zone index. An IPv4-mapped IPv6 address becomes IPv4 (RFC 7208 §5 last
    /// paragraph: it "MUST still be considered an IPv4 address").
    init?(client text: String) {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if text.count > 5, text.prefix(5).lowercased() == "ipv6:" { text = text.dropFirst(5) }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        if let v4 = SPFAddress.parseIPv4(text) {
            self = .v4(v4)
        } else if let (high, low) = SPFAddress.parseIPv6(text) {
            // ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
            if high == 0, low >> 32 == 0xFFFF {
                self = .v4(UInt32(truncatingIfNeeded: low))
            } else {
                self = .v6(high: high, low: low)
            }
        } else {
            return nil
        }
    }

    /// `qnum "." qnum "." qnum "." qnum`, RFC 7208 §5.6: no leading zeros, each 0-255.
    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  part.utf8.count == 1 || part.utf8.first != 0x30,
                  let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    /// RFC 4291 §2.2: eight 1-4 digit hex groups, one `::` for one or more zero groups, and an
    /// optional dotted-quad tail standing for the last two groups.
    static func parseIPv6(_ text: Substring) -> (UInt64, UInt64)? {
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var groups: [UInt16]
        if let gap = text.firstRange(of: "::") {
            let head = text[..<gap.lowerBound], tail = text[gap.upperBound...]
            guard !tail.contains("::"),
                  let left = parseGroups(head, allowIPv4Tail: false),
                  let right = parseGroups(tail, allowIPv4Tail: true),
                  left.count + right.count <= 7 else { return nil }
            groups = left + Array(repeating: 0, count: 8 - left.count - right.count) + right
        } else {
            guard let all = parseGroups(text, allowIPv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        var high: UInt64 = 0, low: UInt64 = 0
        for group in groups[0..<4] { high = high << 16 | UInt64(group) }
        for group in groups[4..<8] { low = low << 16 | UInt64(group) }
        return (high, low)
    }

    private static func parseGroups(_ text: Substring, allowIPv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 8 else { return nil }
        var groups: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if allowIPv4Tail, index == parts.count - 1, part.contains(".") {
                guard let v4 = parseIPv4(part) else { return nil }
                groups.append(UInt16(truncatingIfNeeded: v4 >> 16))
                groups.append(UInt16(truncatingIfNeeded: v4))
            } else {
                guard (1...4).contains(part.utf8.count), part.utf8.allSatisfy(isHexDigit),
                      let group = UInt16(part, radix: 16) else { return nil }
                groups.append(group)
            }
        }
        return groups
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    /// Whether `self` lies in `network`/`prefix` (RFC 7208 §5.6); addresses of different
    /// families never match (§5 last paragraph).
    func isIn(_ network: SPFAddress, prefix: Int) -> Bool {
        switch (self, network) {
        case let (.v4(address), .v4(net)):
            guard prefix > 0 else { return true }
            let mask: UInt32 = prefix >= 32 ? .max : ~(UInt32.max >> UInt32(prefix))
            return address & mask == net & mask
        case let (.v6(high, low), .v6(netHigh, netLow)):
            return SPFAddress.masked(high, prefix) == SPFAddress.masked(netHigh, prefix)
                && SPFAddress.masked(low, prefix - 64) == SPFAddress.masked(netLow, prefix - 64)
        default:
            return false
        }
    }

    private static func masked(_ half: UInt64, _ bits: Int) -> UInt64 {
        if bits <= 0 { return 0 }
        if bits >= 64 { return half }
        return half & ~(UInt64.max >> UInt64(bits))
    }

    var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }

    private var groups: [UInt16] {
        switch self {
        case .v4(let value):
            return [0, 0, 0, 0, 0, 0xFFFF, UInt16(truncatingIfNeeded: value >> 16), UInt16(truncatingIfNeeded: value)]
        case let .v6(high, low):
            return (0..<4).map { UInt16(truncatingIfNeeded: high >> UInt64(48 - 16 * $0)) }
                + (0..<4).map { UInt16(truncatingIfNeeded: low >> UInt64(48 - 16 * $0)) }
        }
    }

    /// The `c` macro (RFC 7208 §7.3): dotted quad, or RFC 5952 text (lowercase, the longest run
    /// of two or more zero groups as `::`).
    var readable: String {
        switch self {
        case .v4(let value):
            return [24, 16, 8, 0].map { String(value >> UInt32($0) & 0xFF) }.joined(separator: ".")
        case .v6:
            let groups = self.groups
            var bestStart = -1, bestLength = 1
            var index = 0
            while index < 8 {
                guard groups[index] == 0 else { index += 1; continue }
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index > bestLength { bestStart = index; bestLength = end - index }
                index = end
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            guard bestStart >= 0 else { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    /// The `i` macro (RFC 7208 §7.3): dotted quad, or for IPv6 the 32 nibbles dot-separated,
    /// most significant first (§7.4's example writes them in uppercase).
    var dotted: String {
        switch self {
        case .v4:
            return readable
        case .v6:
            return groups.flatMap { group in
                (0..<4).map { String(group >> UInt16(12 - 4 * $0) & 0xF, radix: 16, uppercase: true) }
            }.joined(separator: ".")
        }
    }

    /// The `v` macro (RFC 7208 §7.3).
    var macroVersion: String { isIPv6 ? "ip6" : "in-addr" }

    /// The reverse-mapping name (RFC 1035 §3.5, RFC 3596 §2.5), lowercase.
    var reverseName: String {
        switch self {
        case .v4:
            return readable.split(separator: ".").reversed().joined(separator: ".") + ".in-addr.arpa"
        case .v6:
            return dotted.lowercased().split(separator: ".").reversed().joined(separator: ".") + ".ip6.arpa"
        }
    }
}
