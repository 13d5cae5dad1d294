import NIOCore

/// Packets to and from bytes (see MilterProtocol.swift for the grammar). Encoding never fails;
/// decoding checks lengths and contents, and on short input says "need more bytes" and leaves
/// the buffer untouched.
public enum MilterCodec {
    /// libmilter's MILTER_CHUNK_SIZE: the largest SMFIC_BODY chunk without SMFIP_MDS_*.
    public static let maxBodyChunk = 65535
    /// The largest packet accepted from a filter: MILTER_MAX_DATA_SIZE is 65535 (1 MiB with
    /// SMFIP_MDS_1M, never offered); anything longer is a broken or hostile peer.
    public static let maxPacket = 1 << 20

    // MARK: Framing

    /// One packet's command octet and data, or nil when `buffer` does not yet hold a whole
    /// packet (it is then left as it was).
    public static func nextPacket(_ buffer: inout ByteBuffer, maxLength: Int = maxPacket) throws(MilterProtocolError) -> (code: UInt8, data: ByteBuffer)? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else { return nil }
        guard length >= 1 else { throw MilterProtocolError("empty packet") }
        guard length <= UInt32(maxLength) else { throw MilterProtocolError("packet of \(length) octets (at most \(maxLength))") }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let code = buffer.readInteger(as: UInt8.self)!
        let data = buffer.readSlice(length: Int(length) - 1)!
        return (code, data)
    }

    static func frame(_ code: UInt8, _ data: ByteBuffer, into out: inout ByteBuffer) {
        out.writeInteger(UInt32(data.readableBytes + 1), endianness: .big)
        out.writeInteger(code)
        out.writeImmutableBuffer(data)
    }

    // MARK: Commands (MTA → filter)

    public static func encode(_ command: MilterCommand, into out: inout ByteBuffer) {
        var data = ByteBuffer()
        switch command {
        case .negotiate(let n):
            writeNegotiation(n, into: &data)
        case .macros(let stage, let macros):
            data.writeInteger(stage)
            for m in macros {
                writeString(Array(m.name.utf8), into: &data)
                writeString(Array(m.value.utf8), into: &data)
            }
        case .connect(let hostname, let address):
            writeString(Array(hostname.utf8), into: &data)
            switch address {
            case .unknown:
                data.writeInteger(UInt8(ascii: "U"))
            case .unix(let path):
                data.writeInteger(UInt8(ascii: "L"))
                data.writeInteger(UInt16(0), endianness: .big)
                writeString(Array(path.utf8), into: &data)
            case .inet(let port, let a):
                data.writeInteger(UInt8(ascii: "4"))
                data.writeInteger(port, endianness: .big)
                writeString(Array(a.utf8), into: &data)
            case .inet6(let port, let a):
                data.writeInteger(UInt8(ascii: "6"))
                data.writeInteger(port, endianness: .big)
                writeString(Array(a.utf8), into: &data)
            }
        case .helo(let name):
            writeString(Array(name.utf8), into: &data)
        case .mail(let args), .recipient(let args):
            for a in args { writeString(Array(a.utf8), into: &data) }
        case .header(let name, let value):
            writeString(Array(name.utf8), into: &data)
            writeString(value, into: &data)
        case .body(let chunk):
            data.writeBytes(chunk)
        case .data, .endOfHeaders, .endOfMessage, .abort, .quit:
            break
        }
        frame(command.code, data, into: &out)
    }

    public static func encode(_ commands: [MilterCommand]) -> ByteBuffer {
        var out = ByteBuffer()
        for c in commands { encode(c, into: &out) }
        return out
    }

    /// Reads a command, as a filter would (used by tests and test filters).
    public static func decodeCommand(code: UInt8, data: ByteBuffer) throws(MilterProtocolError) -> MilterCommand {
        var data = data
        let command: MilterCommand
        switch code {
        case UInt8(ascii: "O"):
            command = .negotiate(try readNegotiation(&data))
        case UInt8(ascii: "D"):
            guard let stage = data.readInteger(as: UInt8.self) else { throw MilterProtocolError("SMFIC_MACRO without a command") }
            var macros: [MilterMacro] = []
            while data.readableBytes > 0 {
                let name = try readText(&data, "SMFIC_MACRO name")
                let value = try readText(&data, "SMFIC_MACRO value")
                macros.append(MilterMacro(name, value))
            }
            command = .macros(for: stage, macros)
        case UInt8(ascii: "C"):
            let hostname = try readText(&data, "SMFIC_CONNECT host name")
            guard let family = data.readInteger(as: UInt8.self) else { throw MilterProtocolError("SMFIC_CONNECT without a family") }
            if family == UInt8(ascii: "U") {
                command = .connect(hostname: hostname, .unknown)
            } else {
                guard let port = data.readInteger(endianness: .big, as: UInt16.self) else { throw MilterProtocolError("SMFIC_CONNECT without a port") }
                let address = try readText(&data, "SMFIC_CONNECT address")
                switch family {
                case UInt8(ascii: "4"): command = .connect(hostname: hostname, .inet(port: port, address: address))
                case UInt8(ascii: "6"): command = .connect(hostname: hostname, .inet6(port: port, address: address))
                case UInt8(ascii: "L"): command = .connect(hostname: hostname, .unix(path: address))
                default: throw MilterProtocolError("SMFIC_CONNECT family \(family)")
                }
            }
        case UInt8(ascii: "H"):
            command = .helo(try readText(&data, "SMFIC_HELO"))
        case UInt8(ascii: "M"), UInt8(ascii: "R"):
            var args: [String] = []
            while data.readableBytes > 0 { args.append(try readText(&data, "SMFIC_MAIL/RCPT argument")) }
            guard !args.isEmpty else { throw MilterProtocolError("SMFIC_MAIL/RCPT without an address") }
            command = code == UInt8(ascii: "M") ? .mail(args) : .recipient(args)
        case UInt8(ascii: "L"):
            let name = try readText(&data, "SMFIC_HEADER name")
            command = .header(name: name, value: try readString(&data, "SMFIC_HEADER value"))
        case UInt8(ascii: "B"):
            command = .body(Array(data.readableBytesView))
            data.moveReaderIndex(to: data.writerIndex)
        case UInt8(ascii: "T"): command = .data
        case UInt8(ascii: "N"): command = .endOfHeaders
        case UInt8(ascii: "E"): command = .endOfMessage
        case UInt8(ascii: "A"): command = .abort
        case UInt8(ascii: "Q"): command = .quit
        default:
            throw MilterProtocolError("unknown command \(printable(code))")
        }
        guard data.readableBytes == 0 else { throw MilterProtocolError("\(printable(code)): \(data.readableBytes) octets too many") }
        return command
    }

    // MARK: Replies (filter → MTA)

    public static func encode(_ reply: MilterReply, into out: inout ByteBuffer) {
        var data = ByteBuffer()
        switch reply {
        case .negotiate(let n):
            writeNegotiation(n, into: &data)
            for stage in MilterMacroStage.allCases {
                guard let list = n.macroLists[stage] else { continue }
                data.writeInteger(stage.rawValue, endianness: .big)
                writeString(Array(list.utf8), into: &data)
            }
        case .replyCode(let r):
            writeString(Array(r.text.utf8), into: &data)
        case .addHeader(let name, let value):
            writeString(Array(name.utf8), into: &data)
            writeString(value, into: &data)
        case .changeHeader(let index, let name, let value), .insertHeader(let index, let name, let value):
            data.writeInteger(index, endianness: .big)
            writeString(Array(name.utf8), into: &data)
            writeString(value, into: &data)
        case .replaceBody(let chunk):
            data.writeBytes(chunk)
        case .quarantine(let reason):
            writeString(Array(reason.utf8), into: &data)
        case .changeSender(let address, let parameters), .addRecipientWithParameters(let address, let parameters):
            writeString(Array(address.utf8), into: &data)
            if let parameters { writeString(Array(parameters.utf8), into: &data) }
        case .addRecipient(let address), .deleteRecipient(let address):
            writeString(Array(address.utf8), into: &data)
        case .accept, .continue, .reject, .tempfail, .discard, .progress, .skip, .shutdown, .connectionFailure:
            break
        }
        frame(reply.code, data, into: &out)
    }

    /// Reads and checks a filter's reply. Anything malformed (a missing NUL, a bad header name,
    /// an invalid SMTP reply, trailing octets) throws: the filter has failed.
    public static func decodeReply(code: UInt8, data: ByteBuffer) throws(MilterProtocolError) -> MilterReply {
        var data = data
        let reply: MilterReply
        switch code {
        case UInt8(ascii: "O"):
            var n = try readNegotiation(&data)
            // SMFIF_SETSYMLIST: (stage, names) pairs follow the three numbers.
            while data.readableBytes > 0 {
                guard let raw = data.readInteger(endianness: .big, as: UInt32.self), let stage = MilterMacroStage(rawValue: raw) else {
                    throw MilterProtocolError("SMFIC_OPTNEG: bad macro stage")
                }
                n.macroLists[stage] = try readText(&data, "SMFIC_OPTNEG macro list")
            }
            reply = .negotiate(n)
        case UInt8(ascii: "a"): reply = .accept
        case UInt8(ascii: "c"): reply = .continue
        case UInt8(ascii: "r"): reply = .reject
        case UInt8(ascii: "t"): reply = .tempfail
        case UInt8(ascii: "d"): reply = .discard
        case UInt8(ascii: "p"): reply = .progress
        case UInt8(ascii: "s"): reply = .skip
        case UInt8(ascii: "4"): reply = .shutdown
        case UInt8(ascii: "f"): reply = .connectionFailure
        case UInt8(ascii: "y"):
            let text = try readText(&data, "SMFIR_REPLYCODE")
            guard let r = MilterSMTPReply(text) else { throw MilterProtocolError("SMFIR_REPLYCODE: not a 4xx/5xx reply: \(text.prefix(80))") }
            reply = .replyCode(r)
        case UInt8(ascii: "h"):
            let name = try readHeaderName(&data, "SMFIR_ADDHEADER")
            reply = .addHeader(name: name, value: try readString(&data, "SMFIR_ADDHEADER value"))
        case UInt8(ascii: "m"), UInt8(ascii: "i"):
            guard let index = data.readInteger(endianness: .big, as: UInt32.self) else { throw MilterProtocolError("SMFIR_CHGHEADER/INSHEADER without an index") }
            let name = try readHeaderName(&data, "SMFIR_CHGHEADER/INSHEADER")
            let value = try readString(&data, "SMFIR_CHGHEADER/INSHEADER value")
            reply = code == UInt8(ascii: "m") ? .changeHeader(index: index, name: name, value: value)
                                              : .insertHeader(index: index, name: name, value: value)
        case UInt8(ascii: "b"):
            reply = .replaceBody(Array(data.readableBytesView))
            data.moveReaderIndex(to: data.writerIndex)
        case UInt8(ascii: "q"):
            reply = .quarantine(reason: try readText(&data, "SMFIR_QUARANTINE"))
        case UInt8(ascii: "e"), UInt8(ascii: "2"):
            let address = try readAddress(&data, code == UInt8(ascii: "e") ? "SMFIR_CHGFROM" : "SMFIR_ADDRCPT_PAR")
            let parameters = data.readableBytes > 0 ? try readText(&data, "ESMTP parameters") : nil
            reply = code == UInt8(ascii: "e") ? .changeSender(address, parameters: parameters)
                                              : .addRecipientWithParameters(address, parameters: parameters)
        case UInt8(ascii: "+"):
            reply = .addRecipient(try readAddress(&data, "SMFIR_ADDRCPT"))
        case UInt8(ascii: "-"):
            reply = .deleteRecipient(try readAddress(&data, "SMFIR_DELRCPT"))
        default:
            throw MilterProtocolError("unknown reply \(printable(code))")
        }
        guard data.readableBytes == 0 else { throw MilterProtocolError("reply \(printable(code)): \(data.readableBytes) octets too many") }
        return reply
    }

    public static func encode(_ replies: [MilterReply]) -> ByteBuffer {
        var out = ByteBuffer()
        for r in replies { encode(r, into: &out) }
        return out
    }

    // MARK: Parts

    private static func writeNegotiation(_ n: MilterNegotiation, into data: inout ByteBuffer) {
        data.writeInteger(n.version, endianness: .big)
        data.writeInteger(n.actions.rawValue, endianness: .big)
        data.writeInteger(n.options.rawValue, endianness: .big)
    }

    private static func readNegotiation(_ data: inout ByteBuffer) throws(MilterProtocolError) -> MilterNegotiation {
        guard let version = data.readInteger(endianness: .big, as: UInt32.self),
              let actions = data.readInteger(endianness: .big, as: UInt32.self),
              let options = data.readInteger(endianness: .big, as: UInt32.self) else {
            throw MilterProtocolError("SMFIC_OPTNEG shorter than 12 octets")
        }
        return MilterNegotiation(version: version, actions: MilterActions(rawValue: actions), options: MilterProtocolOptions(rawValue: options))
    }

    /// A NUL-terminated string (what libmilter writes); the NUL is not part of it.
    private static func writeString(_ bytes: [UInt8], into data: inout ByteBuffer) {
        // A NUL inside would end the string early and shift every later field.
        data.writeBytes(bytes.lazy.filter { $0 != 0 })
        data.writeInteger(UInt8(0))
    }

    private static func readString(_ data: inout ByteBuffer, _ what: String) throws(MilterProtocolError) -> [UInt8] {
        guard let nul = data.readableBytesView.firstIndex(of: 0) else { throw MilterProtocolError("\(what): no terminating NUL") }
        let bytes = Array(data.readableBytesView[data.readerIndex..<nul])
        data.moveReaderIndex(to: nul + 1)
        return bytes
    }

    private static func readText(_ data: inout ByteBuffer, _ what: String) throws(MilterProtocolError) -> String {
        String(decoding: try readString(&data, what), as: UTF8.self)
    }

    /// RFC 5322 §2.2 field-name: printable ASCII but colon, at least one.
    private static func readHeaderName(_ data: inout ByteBuffer, _ what: String) throws(MilterProtocolError) -> String {
        let name = try readString(&data, "\(what) name")
        guard !name.isEmpty, name.count <= 998, name.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else {
            throw MilterProtocolError("\(what): bad header name")
        }
        return String(decoding: name, as: UTF8.self)
    }

    /// An envelope address from the filter, with or without angle brackets: no control
    /// characters or spaces, bounded (RFC 5321 §4.5.3.1.3).
    private static func readAddress(_ data: inout ByteBuffer, _ what: String) throws(MilterProtocolError) -> String {
        let bytes = try readString(&data, what)
        guard bytes.count <= 512, bytes.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { throw MilterProtocolError("\(what): bad address") }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func printable(_ code: UInt8) -> String {
        code > 0x20 && code < 0x7F ? "'\(Character(Unicode.Scalar(code)))'" : "0x\(String(code, radix: 16))"
    }
}
