/// A domain name as a sequence of labels (RFC 1035 §3.1), the root label left implicit.
///
/// Comparison and hashing are ASCII case-insensitive (RFC 4343); the labels keep the case they
/// were written or received with. Every instance satisfies the RFC 1035 §2.3.4 limits: labels of
/// 1...63 octets, at most 255 octets on the wire including the length octets and the root.
///
/// Internationalised names must be given as A-labels (`xn--...`): this type does no IDNA.
public struct DNSName: Sendable, Hashable, CustomStringConvertible {
    /// The labels from the leftmost to the TLD; empty for the root.
    public let labels: [[UInt8]]

    /// The root name `.`.
    public static let root = DNSName(validated: [])

    /// Builds a name from raw labels, checking the RFC 1035 §2.3.4 limits.
    public init(labels: [[UInt8]]) throws(DNSNameError) {
        guard labels.count <= DNSLimits.maxLabels else { throw .tooManyLabels }
        var length = 1
        for label in labels {
            guard !label.isEmpty else { throw .emptyLabel }
            guard label.count <= DNSLimits.maxLabelLength else { throw .labelTooLong }
            length += 1 + label.count
        }
        guard length <= DNSLimits.maxNameLength else { throw .nameTooLong }
        self.labels = labels
    }

    /// Parses presentation format: `mx.example.com`, `mx.example.com.`, `.` for the root,
    /// `_25._tcp.mx.example.com` for TLSA. Accepts printable ASCII other than `.`, `\` and space in
    /// labels (no `\DDD` escapes: mail domains never need them), rejects empty labels.
    public init(_ text: String) throws(DNSNameError) {
        if text == "." {
            self = .root
            return
        }
        var bytes = Array(text.utf8)
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        guard !bytes.isEmpty else { throw .emptyLabel }
        // Bounding the text first keeps a megabyte of dots from becoming a megabyte of labels.
        guard bytes.count < DNSLimits.maxNameLength else { throw .nameTooLong }
        var labels: [[UInt8]] = []
        var current: [UInt8] = []
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                labels.append(current)
                current = []
            } else {
                guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { throw .invalidCharacter }
                current.append(byte)
            }
        }
        labels.append(current)
        try self.init(labels: labels)
    }

    /// For names the parser has already bounded.
    init(validated labels: [[UInt8]]) {
        self.labels = labels
    }

    public var isRoot: Bool { labels.isEmpty }

    /// Octets on the wire without compression: each label's length octet and bytes, plus the root.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// The same name with ASCII letters lowercased: the cache key and the form handed to callers.
    public var lowercased: DNSName {
        DNSName(validated: labels.map { $0.map(DNSName.lower) })
    }

    /// `true` when `self` is `other` or a name below it (`a.b.test` is a subdomain of `b.test`).
    public func isSubdomain(of other: DNSName) -> Bool {
        guard labels.count >= other.labels.count else { return false }
        return DNSName(validated: Array(labels.suffix(other.labels.count))) == other
    }

    /// Prepends labels (`_25._tcp` + `mx.example.test`).
    public func prepending(_ label: String) throws(DNSNameError) -> DNSName {
        try DNSName(labels: [Array(label.utf8)] + labels)
    }

    /// Presentation format without the trailing dot (`.` for the root). Bytes outside printable
    /// ASCII, and `.` or `\` inside a label, are written as `\DDD` (RFC 1035 §5.1) so a hostile
    /// name can never smuggle a control character into a log line or an SMTP reply.
    public var description: String {
        guard !labels.isEmpty else { return "." }
        var out = ""
        for (index, label) in labels.enumerated() {
            if index > 0 { out += "." }
            for byte in label {
                if byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "."), byte != UInt8(ascii: "\\") {
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    let digits = String(byte)
                    out += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
        }
        return out
    }

    public static func == (a: DNSName, b: DNSName) -> Bool {
        guard a.labels.count == b.labels.count else { return false }
        for (x, y) in zip(a.labels, b.labels) {
            guard x.count == y.count else { return false }
            for (p, q) in zip(x, y) where lower(p) != lower(q) { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(labels.count)
        for label in labels {
            hasher.combine(label.count)
            for byte in label { hasher.combine(DNSName.lower(byte)) }
        }
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }
}

/// Why a name could not be built.
public enum DNSNameError: Error, Sendable, Hashable, CustomStringConvertible {
    case emptyLabel
    case labelTooLong
    case nameTooLong
    case tooManyLabels
    case invalidCharacter

    public var description: String {
        switch self {
        case .emptyLabel: "empty label"
        case .labelTooLong: "label longer than 63 octets"
        case .nameTooLong: "name longer than 255 octets"
        case .tooManyLabels: "more than 127 labels"
        case .invalidCharacter: "character not allowed in a domain name"
        }
    }
}

/// The bounds every parser and encoder in this module enforces (RFC 1035 §2.3.4, §4.2.1).
public enum DNSLimits {
    /// RFC 1035 §2.3.4.
    public static let maxLabelLength = 63
    /// RFC 1035 §2.3.4: including length octets and the root.
    public static let maxNameLength = 255
    /// 127 one-octet labels fill 255 octets.
    public static let maxLabels = 127
    /// A message over TCP carries a 16-bit length (RFC 1035 §4.2.2).
    public static let maxMessageSize = 65535
    /// Compression pointers followed while reading one name; strictly decreasing targets already
    /// guarantee termination, this is the belt to those braces.
    public static let maxPointerHops = 127
    /// Bytes a DNS header takes (RFC 1035 §4.1.1).
    public static let headerSize = 12
    /// The smallest question: the root name plus type and class.
    public static let minQuestionSize = 5
    /// The smallest resource record: root name, type, class, TTL, RDLENGTH.
    public static let minRecordSize = 11
    /// RFC 6891 §6.2.5 and the DNS Flag Day 2020 recommendation: no IP fragmentation.
    public static let defaultEDNSPayloadSize: UInt16 = 1232
    /// CNAMEs followed for one lookup before giving up (BIND and Unbound use similar bounds).
    public static let maxCNAMEChain = 8
}
