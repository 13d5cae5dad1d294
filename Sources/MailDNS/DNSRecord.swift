/// A resource record TYPE (RFC 1035 §3.2.2). A struct rather than an enum so types this module
/// does not know still round-trip (RFC 3597).
public struct DNSRecordType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// RFC 1035 §3.4.1.
    public static let a = DNSRecordType(1)
    /// RFC 1035 §3.3.11.
    public static let ns = DNSRecordType(2)
    /// RFC 1035 §3.3.1.
    public static let cname = DNSRecordType(5)
    /// RFC 1035 §3.3.13.
    public static let soa = DNSRecordType(6)
    /// RFC 1035 §3.3.12.
    public static let ptr = DNSRecordType(12)
    /// RFC 1035 §3.3.9.
    public static let mx = DNSRecordType(15)
    /// RFC 1035 §3.3.14.
    public static let txt = DNSRecordType(16)
    /// RFC 3596 §2.1.
    public static let aaaa = DNSRecordType(28)
    /// RFC 6891 §6.1.1 (a pseudo-record, only in the additional section).
    public static let opt = DNSRecordType(41)
    /// RFC 6698 §2.
    public static let tlsa = DNSRecordType(52)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .ptr: "PTR"
        case .mx: "MX"
        case .txt: "TXT"
        case .aaaa: "AAAA"
        case .opt: "OPT"
        case .tlsa: "TLSA"
        default: "TYPE\(rawValue)"
        }
    }
}

/// A CLASS (RFC 1035 §3.2.4). In an OPT record this field carries the UDP payload size instead.
public struct DNSClass: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let internet = DNSClass(1)

    public var description: String { self == .internet ? "IN" : "CLASS\(rawValue)" }
}

/// An IPv4 or IPv6 address from an A or AAAA record, as network-order bytes (4 or 16).
public struct InternetAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// nil unless `bytes` has 4 or 16 elements.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses dotted-quad IPv4 or RFC 4291 §2.2 IPv6 text (`::1`, `2001:db8::1`,
    /// `::ffff:192.0.2.1`); nil for anything else, including zone suffixes and brackets.
    public init?(_ text: String) {
        if let v4 = InternetAddress.parseIPv4(Substring(text)) {
            bytes = v4
        } else if let v6 = InternetAddress.parseIPv6(text) {
            bytes = v6
        } else {
            return nil
        }
    }

    public var isIPv6: Bool { bytes.count == 16 }

    /// Dotted quad, or RFC 5952 canonical IPv6 text (lowercase, longest zero run as `::`).
    public var description: String {
        if !isIPv6 { return bytes.map(String.init).joined(separator: ".") }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        // RFC 5952 §4.2.3: the longest run of two or more zero groups, the first on a tie.
        var bestStart = -1, bestLength = 0, index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index > bestLength, end - index >= 2 { bestStart = index; bestLength = end - index }
                index = end
            } else {
                index += 1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        if bestStart < 0 { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            // No leading zeros: "010" is octal to inet_aton and decimal to others.
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  part == "0" || part.first != "0", let value = UInt8(part) else { return nil }
            out.append(value)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 45, text.contains(":") else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        var sawDoubleColon = false
        let halves = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
        guard halves.count <= 2 else { return nil }
        sawDoubleColon = halves.count == 2
        func groups(_ part: String, allowIPv4: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (i, piece) in pieces.enumerated() {
                if i == pieces.count - 1, allowIPv4, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    out.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    out.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                } else {
                    guard (1...4).contains(piece.utf8.count), piece.utf8.allSatisfy({ $0.isHexDigit }),
                          let value = UInt16(piece, radix: 16) else { return nil }
                    out.append(value)
                }
            }
            return out
        }
        if sawDoubleColon {
            guard let h = groups(halves[0], allowIPv4: false), let t = groups(halves[1], allowIPv4: true),
                  h.count + t.count <= 7 else { return nil }
            head = h
            tail = t
        } else {
            guard let h = groups(halves[0], allowIPv4: true), h.count == 8 else { return nil }
            head = h
        }
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}

/// SOA RDATA (RFC 1035 §3.3.13); resolvers use `minimum` for negative caching (RFC 2308 §4).
public struct SOARecord: Sendable, Hashable {
    public var primaryNameServer: DNSName
    public var responsibleMailbox: DNSName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init(primaryNameServer: DNSName, responsibleMailbox: DNSName, serial: UInt32, refresh: UInt32,
                retry: UInt32, expire: UInt32, minimum: UInt32) {
        self.primaryNameServer = primaryNameServer
        self.responsibleMailbox = responsibleMailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// TLSA RDATA (RFC 6698 §2.1), kept for DANE (RFC 7672).
public struct TLSARecord: Sendable, Hashable {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218).
    public var certificateUsage: UInt8
    /// 0 full certificate, 1 SubjectPublicKeyInfo.
    public var selector: UInt8
    /// 0 exact, 1 SHA-256, 2 SHA-512.
    public var matchingType: UInt8
    public var certificateAssociationData: [UInt8]

    public init(certificateUsage: UInt8, selector: UInt8, matchingType: UInt8, certificateAssociationData: [UInt8]) {
        self.certificateUsage = certificateUsage
        self.selector = selector
        self.matchingType = matchingType
        self.certificateAssociationData = certificateAssociationData
    }
}

/// One EDNS option (RFC 6891 §6.1.2), kept opaque.
public struct EDNSOption: Sendable, Hashable {
    public var code: UInt16
    public var data: [UInt8]

    public init(code: UInt16, data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

/// RDATA, decoded for the types a mail server uses and raw for the rest (RFC 3597).
public enum DNSRecordData: Sendable, Hashable {
    /// RFC 1035 §3.4.1 (class IN only; an A of another class stays `.unknown`).
    case a(InternetAddress)
    /// RFC 3596 §2.2 (class IN only).
    case aaaa(InternetAddress)
    /// RFC 1035 §3.3.11.
    case ns(DNSName)
    /// RFC 1035 §3.3.1.
    case cname(DNSName)
    /// RFC 1035 §3.3.12.
    case ptr(DNSName)
    /// RFC 1035 §3.3.9. An exchange of `.` with preference 0 is a null MX (RFC 7505).
    case mx(preference: UInt16, exchange: DNSName)
    /// RFC 1035 §3.3.14: one or more character-strings of at most 255 octets each.
    case txt([[UInt8]])
    /// RFC 1035 §3.3.13.
    case soa(SOARecord)
    /// RFC 6698 §2.1.
    case tlsa(TLSARecord)
    /// RFC 6891 §6.1.2.
    case opt([EDNSOption])
    /// Any other type, or a known type in a class where its RDATA means something else.
    case unknown(type: DNSRecordType, data: [UInt8])

    /// The TYPE this RDATA is encoded under.
    public var type: DNSRecordType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .ptr: .ptr
        case .mx: .mx
        case .txt: .txt
        case .soa: .soa
        case .tlsa: .tlsa
        case .opt: .opt
        case .unknown(let type, _): type
        }
    }
}

/// A resource record (RFC 1035 §4.1.3).
public struct DNSResourceRecord: Sendable, Hashable {
    public var name: DNSName
    /// The UDP payload size for OPT (RFC 6891 §6.1.2).
    public var recordClass: DNSClass
    /// Seconds; for OPT, the extended RCODE, version and flags (RFC 6891 §6.1.3).
    public var ttl: UInt32
    public var data: DNSRecordData

    public var type: DNSRecordType { data.type }

    public init(name: DNSName, recordClass: DNSClass = .internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }
}
