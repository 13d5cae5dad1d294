/// The 12-octet message header (RFC 1035 §4.1.1, AD/CD bits from RFC 4035 §3.2).
public struct DNSHeader: Sendable, Hashable {
    public var id: UInt16
    /// QR: a response rather than a query.
    public var isResponse: Bool
    /// 0 QUERY; 4 bits.
    public var opcode: UInt8
    public var isAuthoritative: Bool
    /// TC: the response did not fit and was cut; ask again over TCP (RFC 7766 §5).
    public var isTruncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    /// The reserved Z bit, kept so a message round-trips byte for byte.
    public var zBit: Bool
    /// AD: the resolver validated the answer with DNSSEC (RFC 4035 §3.2.3, RFC 6840 §5.7).
    public var authenticData: Bool
    public var checkingDisabled: Bool
    /// The low 4 bits of the RCODE; `DNSMessage.responseCode` adds the EDNS extension.
    public var rcode: UInt8

    public init(id: UInt16, isResponse: Bool = false, opcode: UInt8 = 0, isAuthoritative: Bool = false,
                isTruncated: Bool = false, recursionDesired: Bool = true, recursionAvailable: Bool = false,
                zBit: Bool = false, authenticData: Bool = false, checkingDisabled: Bool = false, rcode: UInt8 = 0) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode & 0x0F
        self.isAuthoritative = isAuthoritative
        self.isTruncated = isTruncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.zBit = zBit
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.rcode = rcode & 0x0F
    }

    /// The second and third header octets.
    var flags: UInt16 {
        var f: UInt16 = 0
        if isResponse { f |= 0x8000 }
        f |= UInt16(opcode & 0x0F) << 11
        if isAuthoritative { f |= 0x0400 }
        if isTruncated { f |= 0x0200 }
        if recursionDesired { f |= 0x0100 }
        if recursionAvailable { f |= 0x0080 }
        if zBit { f |= 0x0040 }
        if authenticData { f |= 0x0020 }
        if checkingDisabled { f |= 0x0010 }
        f |= UInt16(rcode & 0x0F)
        return f
    }

    init(id: UInt16, flags f: UInt16) {
        self.init(id: id, isResponse: f & 0x8000 != 0, opcode: UInt8((f >> 11) & 0x0F),
                  isAuthoritative: f & 0x0400 != 0, isTruncated: f & 0x0200 != 0,
                  recursionDesired: f & 0x0100 != 0, recursionAvailable: f & 0x0080 != 0,
                  zBit: f & 0x0040 != 0, authenticData: f & 0x0020 != 0, checkingDisabled: f & 0x0010 != 0,
                  rcode: UInt8(f & 0x0F))
    }
}

/// An entry of the question section (RFC 1035 §4.1.2).
public struct DNSQuestion: Sendable, Hashable, CustomStringConvertible {
    public var name: DNSName
    public var type: DNSRecordType
    public var questionClass: DNSClass

    public init(name: DNSName, type: DNSRecordType, questionClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.questionClass = questionClass
    }

    public var description: String { "\(name) \(type)" }
}

/// A response code: the header's 4 bits plus the 8 EDNS bits (RFC 6891 §6.1.3).
public struct DNSResponseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// RFC 1035 §4.1.1.
    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    /// NXDOMAIN: the name does not exist (RFC 8020: nor does anything below it).
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)
    /// RFC 6891 §9: the server does not speak our EDNS version.
    public static let badVersion = DNSResponseCode(rawValue: 16)

    public var description: String {
        switch self {
        case .noError: "NOERROR"
        case .formatError: "FORMERR"
        case .serverFailure: "SERVFAIL"
        case .nameError: "NXDOMAIN"
        case .notImplemented: "NOTIMP"
        case .refused: "REFUSED"
        case .badVersion: "BADVERS"
        default: "RCODE\(rawValue)"
        }
    }
}

/// What an OPT record says (RFC 6891 §6.1.3).
public struct EDNSInfo: Sendable, Hashable {
    public var udpPayloadSize: UInt16
    public var extendedRcode: UInt8
    public var version: UInt8
    /// DO: DNSSEC OK (RFC 3225).
    public var dnssecOK: Bool
    public var options: [EDNSOption]

    public init(udpPayloadSize: UInt16, extendedRcode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false,
                options: [EDNSOption] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRcode = extendedRcode
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }
}

/// A whole DNS message (RFC 1035 §4.1). OPT stays in `additionals` so a message round-trips;
/// `edns` reads it.
public struct DNSMessage: Sendable, Hashable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    public var additionals: [DNSResourceRecord]

    public init(header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
                authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = []) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// A standard query for one question: RD set (we are a stub, RFC 1123 §6.1.3.1), and with
    /// `ednsPayloadSize` an OPT record advertising it (RFC 6891 §6.2.5; 1232 avoids fragmentation).
    /// AD is set so a validating resolver tells us whether the answer is secure (RFC 6840 §5.7),
    /// which DANE (RFC 7672) needs for TLSA.
    public static func query(id: UInt16, name: DNSName, type: DNSRecordType,
                             ednsPayloadSize: UInt16? = DNSLimits.defaultEDNSPayloadSize) -> DNSMessage {
        var message = DNSMessage(header: DNSHeader(id: id, recursionDesired: true, authenticData: true),
                                 questions: [DNSQuestion(name: name, type: type)])
        if let size = ednsPayloadSize {
            message.additionals.append(DNSResourceRecord(name: .root, recordClass: DNSClass(max(size, 512)), ttl: 0,
                                                         data: .opt([])))
        }
        return message
    }

    /// The OPT record's content, if there is one.
    public var edns: EDNSInfo? {
        for record in additionals {
            if case .opt(let options) = record.data {
                return EDNSInfo(udpPayloadSize: record.recordClass.rawValue, extendedRcode: UInt8(record.ttl >> 24),
                                version: UInt8((record.ttl >> 16) & 0xFF), dnssecOK: record.ttl & 0x8000 != 0,
                                options: options)
            }
        }
        return nil
    }

    /// The full RCODE, EDNS extension included.
    public var responseCode: DNSResponseCode {
        DNSResponseCode(rawValue: UInt16(edns?.extendedRcode ?? 0) << 4 | UInt16(header.rcode))
    }
}

/// Why a datagram is not the answer to our query. These are never errors that end the wait:
/// an off-path attacker can send any of them (RFC 5452 §9.1), so the client drops them.
public enum DNSResponseMismatch: Error, Sendable, Hashable {
    case wrongID
    case notAResponse
    case wrongOpcode
    case wrongQuestion
}

extension DNSMessage {
    /// RFC 5452 §4.3 (and RFC 1035 §7.3): the ID, QR, opcode and the question — name compared
    /// case-insensitively, type and class exactly — must all match the query.
    public func validate(asResponseTo query: DNSMessage) throws(DNSResponseMismatch) {
        guard header.id == query.header.id else { throw .wrongID }
        guard header.isResponse else { throw .notAResponse }
        guard header.opcode == query.header.opcode else { throw .wrongOpcode }
        // A FORMERR may come back without the question (RFC 6891 §7 servers that do not know EDNS);
        // otherwise the question must be echoed.
        if questions.isEmpty, responseCode == .formatError || responseCode == .notImplemented { return }
        guard questions == query.questions else { throw .wrongQuestion }
    }
}
