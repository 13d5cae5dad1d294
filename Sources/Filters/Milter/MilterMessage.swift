/// A message as filters see and edit it: its header fields in order, the blank line, the body.
/// The first `hidden` fields are ours (our `Received:` field): like Sendmail and Postfix
/// (milter8.c, "Don't expose our first (received) header"), they are not sent to filters, and
/// SMFIR_CHGHEADER's index does not count them, while SMFIR_INSHEADER's index does (it is a
/// position in the message as delivered).
public struct MilterMessage: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        /// The name as it appears before the colon.
        public var name: String
        /// The whole field, name to final CRLF.
        public var raw: [UInt8]
        public var hidden = false
    }

    public var fields: [Field]
    /// CRLF between header and body, or empty when the header ran into text that is no field
    /// (which then begins the body, as in Postfix's MIME state machine) or to the end.
    public var separator: [UInt8]
    public var body: [UInt8]

    static let crlf: [UInt8] = [13, 10]

    public init(_ bytes: [UInt8], hiddenFields: Int = 0) {
        fields = []
        separator = []
        var i = 0
        while i < bytes.count {
            let lineEnd = bytes[i...].firstIndex(of: 10).map { $0 + 1 } ?? bytes.count
            let line = bytes[i..<lineEnd]
            if line.elementsEqual(Self.crlf) || line.elementsEqual([10]) {
                separator = Array(line)
                i = lineEnd
                break
            }
            if line.first == 0x20 || line.first == 0x09, !fields.isEmpty {
                fields[fields.count - 1].raw += line
            } else if let name = Self.fieldName(line) {
                fields.append(Field(name: name, raw: Array(line), hidden: fields.count < hiddenFields))
            } else {
                break
            }
            i = lineEnd
        }
        body = Array(bytes[i...])
    }

    /// RFC 5322 §3.6.8 field-name, then optional white space (RFC 5322 §4.5.3 obs-optional)
    /// and the colon.
    static func fieldName(_ line: ArraySlice<UInt8>) -> String? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        var end = colon
        while end > line.startIndex, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        let name = line[line.startIndex..<end]
        guard !name.isEmpty, name.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: name, as: UTF8.self)
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + fields.reduce(0) { $0 + $1.raw.count } + 2)
        for f in fields { out += f.raw }
        out += separator
        out += body
        return out
    }

    /// A field's value as SMFIC_HEADER carries it: after the colon, continuation lines
    /// separated by LF alone ("Sendmail 8 sends multi-line headers as text separated by
    /// newline"), without the final line end, and without the one space after the colon
    /// unless the filter asked for SMFIP_HDR_LEADSPC.
    static func milterValue(_ field: Field, leadingSpace: Bool) -> [UInt8] {
        guard var start = field.raw.firstIndex(of: UInt8(ascii: ":")).map({ $0 + 1 }) else { return [] }
        if !leadingSpace, start < field.raw.count, field.raw[start] == 0x20 { start += 1 }
        var value = Array(field.raw[start...])
        while value.last == 10 || value.last == 13 { value.removeLast() }
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        for (n, b) in value.enumerated() where !(b == 13 && n + 1 < value.count && value[n + 1] == 10) { out.append(b) }
        return out
    }

    /// A field from a filter's name and value: line ends made CRLF, every continuation line
    /// starting with white space and none empty (so a value cannot end the header or start a
    /// field of its own), one space after the colon unless SMFIP_HDR_LEADSPC.
    static func field(name: String, value: [UInt8], leadingSpace: Bool) -> Field {
        var lines: [[UInt8]] = [[]]
        var i = 0
        while i < value.count {
            let b = value[i]
            if b == 13 || b == 10 {
                if b == 13, i + 1 < value.count, value[i + 1] == 10 { i += 1 }
                lines.append([])
            } else {
                lines[lines.count - 1].append(b)
            }
            i += 1
        }
        var raw = Array(name.utf8) + [UInt8(ascii: ":")]
        if !leadingSpace { raw.append(0x20) }
        raw += lines[0]
        for line in lines.dropFirst() where line.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
            raw += crlf
            if line.first != 0x20 && line.first != 0x09 { raw.append(0x09) }
            raw += line
        }
        raw += crlf
        return Field(name: name, raw: raw)
    }

    /// The SMFIC_HEADER packets for the fields filters see.
    func headerCommands(leadingSpace: Bool) -> [MilterCommand] {
        fields.filter { !$0.hidden }.map { .header(name: $0.name, value: Self.milterValue($0, leadingSpace: leadingSpace)) }
    }

    /// Carries out one header modification of a filter's SMFIC_BODYEOB answer.
    mutating func apply(_ reply: MilterReply, leadingSpace: Bool) {
        switch reply {
        case .addHeader(let name, let value):
            // smfi_addheader: after the existing fields.
            fields.append(Self.field(name: name, value: value, leadingSpace: leadingSpace))
        case .insertHeader(let index, let name, let value):
            // smfi_insheader: at this position, 0 being the top; past the end, at the end.
            fields.insert(Self.field(name: name, value: value, leadingSpace: leadingSpace), at: min(Int(index), fields.count))
        case .changeHeader(let index, let name, let value):
            // smfi_chgheader: the index-th field of that name (1-based; 0 taken as 1), among the
            // fields the filter saw; an empty value deletes it; past the last, a new field is added.
            let wanted = max(Int(index), 1)
            var seen = 0
            let empty = value.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 13 || $0 == 10 }
            for n in fields.indices where !fields[n].hidden && fields[n].name.lowercased() == name.lowercased() {
                seen += 1
                guard seen == wanted else { continue }
                if empty {
                    fields.remove(at: n)
                } else {
                    fields[n] = Self.field(name: fields[n].name, value: value, leadingSpace: leadingSpace)
                }
                return
            }
            if !empty { fields.append(Self.field(name: name, value: value, leadingSpace: leadingSpace)) }
        default:
            break
        }
    }

    /// SMFIR_REPLBODY's chunks joined: line ends made CRLF (a filter may send LF alone; we never
    /// store or relay a bare LF or CR, DESIGN.md §4).
    mutating func replaceBody(_ chunks: [[UInt8]]) {
        var out: [UInt8] = []
        out.reserveCapacity(chunks.reduce(0) { $0 + $1.count })
        var previous: UInt8 = 0
        for chunk in chunks {
            for b in chunk {
                if b == 10 {
                    if previous != 13 { out.append(13) }
                    out.append(10)
                } else {
                    // A CR not followed by LF gets one.
                    if previous == 13 { out.append(10) }
                    out.append(b)
                }
                previous = b
            }
        }
        if previous == 13 { out.append(10) }
        body = out
        if separator.isEmpty { separator = Self.crlf }
    }
}
