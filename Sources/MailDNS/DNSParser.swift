/// Why bytes are not a DNS message. Every malformed input ends in one of these, never a trap.
public enum DNSParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message ends inside the structure being read.
    case truncated(offset: Int)
    /// More than 65535 octets (RFC 1035 §4.2.2).
    case messageTooLarge
    /// A section count promises more entries than the remaining octets can hold.
    case countExceedsPacket(section: String)
    /// A compression pointer that does not point strictly before the previous one (loops,
    /// forward references; RFC 1035 §4.1.4 allows only prior occurrences).
    case badPointer(offset: Int)
    /// More compression pointers in one name than `DNSLimits.maxPointerHops`.
    case tooManyPointers(offset: Int)
    /// Label type 0b01 or 0b10 (RFC 6891 §5 retired the extended label types).
    case badLabelType(offset: Int)
    case labelTooLong(offset: Int)
    case nameTooLong(offset: Int)
    case tooManyLabels(offset: Int)
    /// RDLENGTH disagrees with what the RDATA of that type holds.
    case badRecordData(type: DNSRecordType, reason: String)
    /// An OPT record out of place or repeated (RFC 6891 §6.1.1).
    case badOPT(String)

    public var description: String {
        switch self {
        case .truncated(let o): "message truncated at offset \(o)"
        case .messageTooLarge: "message longer than 65535 octets"
        case .countExceedsPacket(let s): "\(s) count exceeds the message"
        case .badPointer(let o): "compression pointer at offset \(o) does not point backwards"
        case .tooManyPointers(let o): "too many compression pointers at offset \(o)"
        case .badLabelType(let o): "unsupported label type at offset \(o)"
        case .labelTooLong(let o): "label longer than 63 octets at offset \(o)"
        case .nameTooLong(let o): "name longer than 255 octets at offset \(o)"
        case .tooManyLabels(let o): "more than 127 labels at offset \(o)"
        case .badRecordData(let t, let r): "bad \(t) RDATA: \(r)"
        case .badOPT(let r): "bad OPT record: \(r)"
        }
    }
}

/// A pure, bounded reader of DNS messages (RFC 1035 §4.1) over a byte array. It allocates in
/// proportion to the input (counts are checked against the remaining octets before any array is
/// reserved) and every loop is bounded by the input length or a `DNSLimits` constant.
public struct DNSParser {
    let bytes: [UInt8]
    var offset: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    /// Parses a whole message. Octets after the last record are ignored (some middleboxes pad).
    ///
    ///     message = header question* answer* authority* additional*     ; RFC 1035 §4.1
    public static func parse(_ bytes: [UInt8]) throws(DNSParseError) -> DNSMessage {
        guard bytes.count <= DNSLimits.maxMessageSize else { throw .messageTooLarge }
        var parser = DNSParser(bytes)
        return try parser.readMessage()
    }

    /// Reads only the header: what a client needs to drop a datagram with the wrong ID cheaply.
    public static func parseHeader(_ bytes: [UInt8]) throws(DNSParseError) -> DNSHeader {
        var parser = DNSParser(bytes)
        let id = try parser.readU16()
        return DNSHeader(id: id, flags: try parser.readU16())
    }

    mutating func readMessage() throws(DNSParseError) -> DNSMessage {
        // header = ID flags QDCOUNT ANCOUNT NSCOUNT ARCOUNT     ; RFC 1035 §4.1.1, 6 x 16 bits
        let id = try readU16()
        let flags = try readU16()
        let qdCount = Int(try readU16())
        let anCount = Int(try readU16())
        let nsCount = Int(try readU16())
        let arCount = Int(try readU16())
        let remaining = bytes.count - offset
        guard qdCount * DNSLimits.minQuestionSize <= remaining else { throw .countExceedsPacket(section: "question") }
        guard qdCount * DNSLimits.minQuestionSize + (anCount + nsCount + arCount) * DNSLimits.minRecordSize <= remaining else {
            throw .countExceedsPacket(section: "record")
        }
        var message = DNSMessage(header: DNSHeader(id: id, flags: flags))
        message.questions.reserveCapacity(qdCount)
        for _ in 0..<qdCount {
            // question = QNAME QTYPE QCLASS     ; RFC 1035 §4.1.2
            let name = try readName()
            let type = DNSRecordType(try readU16())
            let qclass = DNSClass(try readU16())
            message.questions.append(DNSQuestion(name: name, type: type, questionClass: qclass))
        }
        message.answers = try readRecords(anCount, section: "answer")
        message.authorities = try readRecords(nsCount, section: "authority")
        message.additionals = try readRecords(arCount, section: "additional")
        // RFC 6891 §6.1.1: at most one OPT, owned by the root, only in the additional section.
        for record in message.answers + message.authorities where record.type == .opt {
            throw .badOPT("outside the additional section")
        }
        let opts = message.additionals.filter { $0.type == .opt }
        guard opts.count <= 1 else { throw .badOPT("more than one") }
        if let opt = opts.first, !opt.name.isRoot { throw .badOPT("owner is not the root") }
        return message
    }

    mutating func readRecords(_ count: Int, section: String) throws(DNSParseError) -> [DNSResourceRecord] {
        var records: [DNSResourceRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count {
            records.append(try readRecord())
        }
        return records
    }

    /// RR = NAME TYPE CLASS TTL RDLENGTH RDATA     ; RFC 1035 §4.1.3
    mutating func readRecord() throws(DNSParseError) -> DNSResourceRecord {
        let name = try readName()
        let type = DNSRecordType(try readU16())
        let rclass = DNSClass(try readU16())
        let ttl = try readU32()
        let length = Int(try readU16())
        let start = offset
        let end = start + length
        guard end <= bytes.count else { throw .truncated(offset: bytes.count) }
        let data = try readRecordData(type: type, recordClass: rclass, end: end)
        guard offset == end else { throw .badRecordData(type: type, reason: "\(end - offset) octets left over") }
        return DNSResourceRecord(name: name, recordClass: rclass, ttl: ttl, data: data)
    }

    mutating func readRecordData(type: DNSRecordType, recordClass: DNSClass, end: Int) throws(DNSParseError) -> DNSRecordData {
        let length = end - offset
        switch type {
        case .a where recordClass == .internet:
            // A = ADDRESS (32 bits)     ; RFC 1035 §3.4.1
            guard length == 4 else { throw .badRecordData(type: type, reason: "length \(length), not 4") }
            return .a(InternetAddress(bytes: try readBytes(4))!)
        case .aaaa where recordClass == .internet:
            // AAAA = ADDRESS (128 bits)     ; RFC 3596 §2.2
            guard length == 16 else { throw .badRecordData(type: type, reason: "length \(length), not 16") }
            return .aaaa(InternetAddress(bytes: try readBytes(16))!)
        case .ns:
            return .ns(try readName(end: end))
        case .cname:
            return .cname(try readName(end: end))
        case .ptr:
            return .ptr(try readName(end: end))
        case .mx:
            // MX = PREFERENCE (16 bits) EXCHANGE (domain-name)     ; RFC 1035 §3.3.9
            guard length >= 3 else { throw .badRecordData(type: type, reason: "length \(length)") }
            let preference = try readU16()
            return .mx(preference: preference, exchange: try readName(end: end))
        case .txt:
            // TXT = 1*character-string; character-string = LEN(8 bits) *OCTET     ; RFC 1035 §3.3.14
            guard length >= 1 else { throw .badRecordData(type: type, reason: "no character-string") }
            var strings: [[UInt8]] = []
            while offset < end {
                let count = Int(try readU8())
                guard offset + count <= end else { throw .badRecordData(type: type, reason: "string runs past RDATA") }
                strings.append(try readBytes(count))
            }
            return .txt(strings)
        case .soa:
            // SOA = MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM     ; RFC 1035 §3.3.13
            let mname = try readName(end: end)
            let rname = try readName(end: end)
            guard end - offset == 20 else { throw .badRecordData(type: type, reason: "timers are not 20 octets") }
            return .soa(SOARecord(primaryNameServer: mname, responsibleMailbox: rname, serial: try readU32(),
                                  refresh: try readU32(), retry: try readU32(), expire: try readU32(),
                                  minimum: try readU32()))
        case .tlsa:
            // TLSA = usage(8) selector(8) matching-type(8) data     ; RFC 6698 §2.1
            guard length >= 3 else { throw .badRecordData(type: type, reason: "length \(length)") }
            let usage = try readU8(), selector = try readU8(), matching = try readU8()
            return .tlsa(TLSARecord(certificateUsage: usage, selector: selector, matchingType: matching,
                                    certificateAssociationData: try readBytes(end - offset)))
        case .opt:
            // OPT RDATA = *(OPTION-CODE(16) OPTION-LENGTH(16) OPTION-DATA)     ; RFC 6891 §6.1.2
            var options: [EDNSOption] = []
            while offset < end {
                guard end - offset >= 4 else { throw .badRecordData(type: type, reason: "option header cut") }
                let code = try readU16()
                let count = Int(try readU16())
                guard offset + count <= end else { throw .badRecordData(type: type, reason: "option runs past RDATA") }
                options.append(EDNSOption(code: code, data: try readBytes(count)))
            }
            return .opt(options)
        default:
            return .unknown(type: type, data: try readBytes(length))
        }
    }

    /// Reads a possibly compressed name at `offset` and leaves `offset` after its inline part.
    /// `end` bounds the inline part (the RDATA end for names inside records).
    ///
    ///     name = *label (zero / pointer)     ; RFC 1035 §4.1.4
    ///     label = LEN(00xxxxxx) 1*63OCTET
    ///     pointer = 11 OFFSET(14 bits)
    ///
    /// Each pointer must point strictly before the lowest offset this name has read so far,
    /// so the walk cannot revisit an octet: loops and forward pointers are errors, and the
    /// octets read stay bounded by the message size.
    mutating func readName(end: Int? = nil) throws(DNSParseError) -> DNSName {
        let limit = min(end ?? bytes.count, bytes.count)
        var position = offset
        var lowest = offset
        var jumped = false
        var hops = 0
        var labels: [[UInt8]] = []
        var wireLength = 1
        while true {
            // Before a jump the inline part must stay inside `limit`; after one, inside the message.
            let bound = jumped ? bytes.count : limit
            guard position < bound else { throw .truncated(offset: position) }
            let lengthByte = bytes[position]
            switch lengthByte & 0xC0 {
            case 0x00:
                let count = Int(lengthByte)
                if count == 0 {
                    if !jumped { offset = position + 1 }
                    return DNSName(validated: labels)
                }
                guard labels.count < DNSLimits.maxLabels else { throw .tooManyLabels(offset: position) }
                wireLength += 1 + count
                guard wireLength <= DNSLimits.maxNameLength else { throw .nameTooLong(offset: position) }
                guard position + 1 + count <= bound else { throw .truncated(offset: bound) }
                labels.append(Array(bytes[(position + 1)..<(position + 1 + count)]))
                position += 1 + count
            case 0xC0:
                guard position + 2 <= bound else { throw .truncated(offset: bound) }
                let target = Int(lengthByte & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < lowest else { throw .badPointer(offset: position) }
                hops += 1
                guard hops <= DNSLimits.maxPointerHops else { throw .tooManyPointers(offset: position) }
                if !jumped { offset = position + 2 }
                jumped = true
                lowest = target
                position = target
            default:
                // 0x40 and 0x80: a length of 64...191 is also a label too long for RFC 1035.
                throw lengthByte & 0xC0 == 0x40 ? .labelTooLong(offset: position) : .badLabelType(offset: position)
            }
        }
    }

    mutating func readU8() throws(DNSParseError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readU16() throws(DNSParseError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func readU32() throws(DNSParseError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    mutating func readBytes(_ count: Int) throws(DNSParseError) -> [UInt8] {
        guard count >= 0, offset + count <= bytes.count else { throw .truncated(offset: offset) }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }
}
