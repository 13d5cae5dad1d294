/// Why a message could not be encoded.
public enum DNSEncodingError: Error, Sendable, Hashable {
    /// A TXT character-string longer than 255 octets (RFC 1035 §3.3).
    case characterStringTooLong
    /// RDATA longer than 65535 octets.
    case recordDataTooLong
    /// More than 65535 entries in a section.
    case tooManyEntries
    /// The whole message exceeds 65535 octets (RFC 1035 §4.2.2).
    case messageTooLarge
}

/// Encodes DNS messages (RFC 1035 §4.1), compressing names (§4.1.4) unless asked not to.
/// Compression only points at names already written, at offsets below 0x4000.
public struct DNSEncoder {
    private(set) var bytes: [UInt8] = []
    private var compression: [DNSName: Int] = [:]
    private let compress: Bool

    init(compress: Bool) {
        self.compress = compress
    }

    public static func encode(_ message: DNSMessage, compress: Bool = true) throws(DNSEncodingError) -> [UInt8] {
        var encoder = DNSEncoder(compress: compress)
        try encoder.write(message)
        guard encoder.bytes.count <= DNSLimits.maxMessageSize else { throw .messageTooLarge }
        return encoder.bytes
    }

    mutating func write(_ message: DNSMessage) throws(DNSEncodingError) {
        bytes.reserveCapacity(512)
        writeU16(message.header.id)
        writeU16(message.header.flags)
        for count in [message.questions.count, message.answers.count, message.authorities.count, message.additionals.count] {
            guard count <= 0xFFFF else { throw .tooManyEntries }
            writeU16(UInt16(count))
        }
        for question in message.questions {
            writeName(question.name)
            writeU16(question.type.rawValue)
            writeU16(question.questionClass.rawValue)
        }
        for record in message.answers + message.authorities + message.additionals {
            try write(record)
        }
    }

    mutating func write(_ record: DNSResourceRecord) throws(DNSEncodingError) {
        writeName(record.name)
        writeU16(record.type.rawValue)
        writeU16(record.recordClass.rawValue)
        writeU32(record.ttl)
        let lengthOffset = bytes.count
        writeU16(0)
        switch record.data {
        case .a(let address), .aaaa(let address):
            bytes += address.bytes
        case .ns(let name), .cname(let name), .ptr(let name):
            writeName(name)
        case .mx(let preference, let exchange):
            writeU16(preference)
            writeName(exchange)
        case .txt(let strings):
            for string in strings {
                guard string.count <= 255 else { throw .characterStringTooLong }
                bytes.append(UInt8(string.count))
                bytes += string
            }
        case .soa(let soa):
            writeName(soa.primaryNameServer)
            writeName(soa.responsibleMailbox)
            for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] { writeU32(value) }
        case .tlsa(let tlsa):
            bytes += [tlsa.certificateUsage, tlsa.selector, tlsa.matchingType]
            bytes += tlsa.certificateAssociationData
        case .opt(let options):
            for option in options {
                guard option.data.count <= 0xFFFF else { throw .recordDataTooLong }
                writeU16(option.code)
                writeU16(UInt16(option.data.count))
                bytes += option.data
            }
        case .unknown(_, let data):
            bytes += data
        }
        let length = bytes.count - lengthOffset - 2
        guard length <= 0xFFFF else { throw .recordDataTooLong }
        bytes[lengthOffset] = UInt8(length >> 8)
        bytes[lengthOffset + 1] = UInt8(length & 0xFF)
    }

    mutating func writeName(_ name: DNSName) {
        var labels = name.labels[...]
        while !labels.isEmpty {
            let suffix = DNSName(validated: Array(labels))
            if compress, let target = compression[suffix] {
                writeU16(0xC000 | UInt16(target))
                return
            }
            if compress, bytes.count < 0x3FFF {
                compression[suffix] = bytes.count
            }
            let label = labels.removeFirst()
            bytes.append(UInt8(label.count))
            bytes += label
        }
        bytes.append(0)
    }

    mutating func writeU16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func writeU32(_ value: UInt32) {
        writeU16(UInt16(value >> 16))
        writeU16(UInt16(value & 0xFFFF))
    }
}
