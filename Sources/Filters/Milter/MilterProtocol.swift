import NIOCore

// The Sendmail/Postfix mail filter protocol, version 6 (Sendmail 8.14's libmilter `mfdef.h`,
// implemented on the MTA side by Postfix's `milter8.c`). Every packet on the wire is
//
//     packet  = len cmd data      ; len: 4 octets, network order, counting cmd and data
//     cmd     = 1 octet           ; SMFIC_* from the MTA, SMFIR_* from the filter
//     string  = *(%x01-FF) %x00   ; strings are NUL-terminated
//
// This file is the pure codec: typed commands and replies to and from `ByteBuffer`, no I/O.

/// What the filter may do to a message (`SMFIF_*`, offered in SMFIC_OPTNEG, requested in the reply).
public struct MilterActions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// SMFIF_ADDHDRS: SMFIR_ADDHEADER and SMFIR_INSHEADER.
    public static let addHeaders = MilterActions(rawValue: 0x01)
    /// SMFIF_CHGBODY: SMFIR_REPLBODY.
    public static let changeBody = MilterActions(rawValue: 0x02)
    /// SMFIF_ADDRCPT: SMFIR_ADDRCPT.
    public static let addRecipient = MilterActions(rawValue: 0x04)
    /// SMFIF_DELRCPT: SMFIR_DELRCPT.
    public static let deleteRecipient = MilterActions(rawValue: 0x08)
    /// SMFIF_CHGHDRS: SMFIR_CHGHEADER.
    public static let changeHeaders = MilterActions(rawValue: 0x10)
    /// SMFIF_QUARANTINE: SMFIR_QUARANTINE.
    public static let quarantine = MilterActions(rawValue: 0x20)
    /// SMFIF_CHGFROM: SMFIR_CHGFROM.
    public static let changeSender = MilterActions(rawValue: 0x40)
    /// SMFIF_ADDRCPT_PAR: SMFIR_ADDRCPT_PAR.
    public static let addRecipientWithParameters = MilterActions(rawValue: 0x80)
    /// SMFIF_SETSYMLIST: macro lists after the SMFIC_OPTNEG reply.
    public static let setSymbolList = MilterActions(rawValue: 0x100)

    /// Everything this client carries out.
    public static let all: MilterActions = [.addHeaders, .changeBody, .addRecipient, .deleteRecipient, .changeHeaders,
                                            .quarantine, .changeSender, .addRecipientWithParameters, .setSymbolList]
}

/// Steps the filter does not want, and replies it will not send (`SMFIP_*`).
public struct MilterProtocolOptions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let noConnect = MilterProtocolOptions(rawValue: 0x1)          // SMFIP_NOCONNECT
    public static let noHelo = MilterProtocolOptions(rawValue: 0x2)             // SMFIP_NOHELO
    public static let noMail = MilterProtocolOptions(rawValue: 0x4)             // SMFIP_NOMAIL
    public static let noRecipient = MilterProtocolOptions(rawValue: 0x8)        // SMFIP_NORCPT
    public static let noBody = MilterProtocolOptions(rawValue: 0x10)            // SMFIP_NOBODY
    public static let noHeaders = MilterProtocolOptions(rawValue: 0x20)         // SMFIP_NOHDRS
    public static let noEndOfHeaders = MilterProtocolOptions(rawValue: 0x40)    // SMFIP_NOEOH
    public static let noReplyHeader = MilterProtocolOptions(rawValue: 0x80)     // SMFIP_NR_HDR (SMFIP_NOHREPL)
    public static let noUnknown = MilterProtocolOptions(rawValue: 0x100)        // SMFIP_NOUNKNOWN
    public static let noData = MilterProtocolOptions(rawValue: 0x200)           // SMFIP_NODATA
    /// SMFIP_SKIP: the MTA understands SMFIR_SKIP.
    public static let skip = MilterProtocolOptions(rawValue: 0x400)
    /// SMFIP_RCPT_REJ: the filter wants rejected recipients too (not offered: we replay only
    /// accepted ones).
    public static let rejectedRecipients = MilterProtocolOptions(rawValue: 0x800)
    public static let noReplyConnect = MilterProtocolOptions(rawValue: 0x1000)  // SMFIP_NR_CONN
    public static let noReplyHelo = MilterProtocolOptions(rawValue: 0x2000)     // SMFIP_NR_HELO
    public static let noReplyMail = MilterProtocolOptions(rawValue: 0x4000)     // SMFIP_NR_MAIL
    public static let noReplyRecipient = MilterProtocolOptions(rawValue: 0x8000) // SMFIP_NR_RCPT
    public static let noReplyData = MilterProtocolOptions(rawValue: 0x10000)    // SMFIP_NR_DATA
    public static let noReplyUnknown = MilterProtocolOptions(rawValue: 0x20000) // SMFIP_NR_UNKN
    public static let noReplyEndOfHeaders = MilterProtocolOptions(rawValue: 0x40000) // SMFIP_NR_EOH
    public static let noReplyBody = MilterProtocolOptions(rawValue: 0x80000)    // SMFIP_NR_BODY
    /// SMFIP_HDR_LEADSPC: header values keep the space after the colon, both ways.
    public static let headerLeadingSpace = MilterProtocolOptions(rawValue: 0x100000)
    /// SMFIP_MDS_256K, SMFIP_MDS_1M: larger packets (not offered: body chunks stay ≤ 65535).
    public static let maxDataSize256K = MilterProtocolOptions(rawValue: 0x10000000)
    public static let maxDataSize1M = MilterProtocolOptions(rawValue: 0x20000000)

    /// What this client offers: every step may be left out or left unanswered, SMFIR_SKIP is
    /// understood, and leading spaces are kept on request (Postfix's MILTER8_V6_PROTO_MASK
    /// without SMFIP_RCPT_REJ).
    public static let offered: MilterProtocolOptions = [
        .noConnect, .noHelo, .noMail, .noRecipient, .noBody, .noHeaders, .noEndOfHeaders, .noReplyHeader, .noUnknown, .noData,
        .skip, .noReplyConnect, .noReplyHelo, .noReplyMail, .noReplyRecipient, .noReplyData, .noReplyUnknown,
        .noReplyEndOfHeaders, .noReplyBody, .headerLeadingSpace,
    ]
}

/// The protocol stages a filter may ask macros for (`SMFIM_*`, in the SMFIC_OPTNEG reply).
public enum MilterMacroStage: UInt32, Sendable, Hashable, CaseIterable {
    case connect = 0        // SMFIM_CONNECT
    case helo = 1           // SMFIM_HELO
    case mail = 2           // SMFIM_ENVFROM
    case recipient = 3      // SMFIM_ENVRCPT
    case data = 4           // SMFIM_DATA
    case endOfMessage = 5   // SMFIM_EOM
    case endOfHeaders = 6   // SMFIM_EOH
}

/// SMFIC_OPTNEG's three numbers, and (in the filter's reply, with SMFIF_SETSYMLIST) the macros
/// it wants at each stage.
public struct MilterNegotiation: Sendable, Equatable {
    public var version: UInt32
    public var actions: MilterActions
    public var options: MilterProtocolOptions
    /// Space-separated macro names by stage, as the filter sent them.
    public var macroLists: [MilterMacroStage: String]

    public init(version: UInt32, actions: MilterActions, options: MilterProtocolOptions, macroLists: [MilterMacroStage: String] = [:]) {
        self.version = version; self.actions = actions; self.options = options; self.macroLists = macroLists
    }

    /// The protocol version this client speaks.
    public static let version: UInt32 = 6
}

/// One macro (Sendmail's `${name}`): a name such as `j` or `{daemon_name}` and its value.
public struct MilterMacro: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

/// The client's address in SMFIC_CONNECT: the family octet (SMFIA_*), then port and address.
public enum MilterClientAddress: Sendable, Equatable {
    /// SMFIA_UNKNOWN 'U': nothing follows.
    case unknown
    /// SMFIA_UNIX 'L'.
    case unix(path: String)
    /// SMFIA_INET '4'.
    case inet(port: UInt16, address: String)
    /// SMFIA_INET6 '6'.
    case inet6(port: UInt16, address: String)
}

/// A packet from the MTA to the filter (`SMFIC_*`).
public enum MilterCommand: Sendable, Equatable {
    /// SMFIC_OPTNEG 'O': version, actions, protocol options.
    case negotiate(MilterNegotiation)
    /// SMFIC_MACRO 'D': the command the macros go with, then name/value string pairs.
    case macros(for: UInt8, [MilterMacro])
    /// SMFIC_CONNECT 'C': client host name, then the address.
    case connect(hostname: String, MilterClientAddress)
    /// SMFIC_HELO 'H': the HELO/EHLO argument.
    case helo(String)
    /// SMFIC_MAIL 'M': `<sender>` and its ESMTP parameters, each a string.
    case mail([String])
    /// SMFIC_RCPT 'R': `<recipient>` and its ESMTP parameters.
    case recipient([String])
    /// SMFIC_DATA 'T'.
    case data
    /// SMFIC_HEADER 'L': name, value (continuation lines separated by LF, as Sendmail sends them).
    case header(name: String, value: [UInt8])
    /// SMFIC_EOH 'N'.
    case endOfHeaders
    /// SMFIC_BODY 'B': a body chunk of at most `MilterCodec.maxBodyChunk` octets.
    case body([UInt8])
    /// SMFIC_BODYEOB 'E'.
    case endOfMessage
    /// SMFIC_ABORT 'A': forget the current message.
    case abort
    /// SMFIC_QUIT 'Q': close the connection.
    case quit

    public var code: UInt8 {
        switch self {
        case .negotiate: UInt8(ascii: "O")
        case .macros: UInt8(ascii: "D")
        case .connect: UInt8(ascii: "C")
        case .helo: UInt8(ascii: "H")
        case .mail: UInt8(ascii: "M")
        case .recipient: UInt8(ascii: "R")
        case .data: UInt8(ascii: "T")
        case .header: UInt8(ascii: "L")
        case .endOfHeaders: UInt8(ascii: "N")
        case .body: UInt8(ascii: "B")
        case .endOfMessage: UInt8(ascii: "E")
        case .abort: UInt8(ascii: "A")
        case .quit: UInt8(ascii: "Q")
        }
    }
}

/// An SMTP reply a filter gives in SMFIR_REPLYCODE (libmilter's smfi_setreply/smfi_setmlreply):
/// `4xx` or `5xx`, an optional enhanced status of the same class, and printable ASCII text,
/// possibly several lines (`550-5.7.1 first`, CRLF, `550 5.7.1 last`).
public struct MilterSMTPReply: Sendable, Equatable {
    public var code: Int
    /// RFC 3463 `class.subject.detail`, nil when the filter gave none.
    public var enhanced: [Int]?
    public var lines: [String]

    public init(code: Int, enhanced: [Int]?, lines: [String]) { self.code = code; self.enhanced = enhanced; self.lines = lines }

    /// Lines and bytes accepted in one reply (RFC 5321 §4.5.3.1.5: 512 octets a reply line).
    static let maxLines = 32
    static let maxLineLength = 512

    /// Parses and checks the text of SMFIR_REPLYCODE; nil when it is not a valid 4xx/5xx reply
    /// (a failure of the filter, as Postfix treats it).
    public init?(_ text: String) {
        let rawLines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        guard !rawLines.isEmpty, rawLines.count <= Self.maxLines else { return nil }
        var code: Int?
        var enhanced: [Int]?
        var lines: [String] = []
        for (n, line) in rawLines.enumerated() {
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, bytes.count <= Self.maxLineLength,
                  bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
            guard bytes[0] == UInt8(ascii: "4") || bytes[0] == UInt8(ascii: "5"),
                  bytes[1...2].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let c = Int(String(decoding: bytes[0..<3], as: UTF8.self)) else { return nil }
            if let code, code != c { return nil }
            code = c
            let last = n == rawLines.count - 1
            var rest = ""
            if bytes.count > 3 {
                // "-" continues, " " ends (RFC 5321 §4.2.1).
                guard bytes[3] == UInt8(ascii: last ? " " : "-") else { return nil }
                rest = String(decoding: bytes[4...], as: UTF8.self)
            } else if !last {
                return nil
            }
            // An enhanced status (RFC 3463 §2) of the reply's class, if the line starts with one.
            let firstWord = rest.prefix { $0 != " " }
            let parts = firstWord.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) {
                let status = parts.map { Int($0)! }
                guard status[0] == c / 100 else { return nil }
                if let enhanced, enhanced != status { return nil }
                enhanced = status
                rest = String(rest.dropFirst(firstWord.count).drop { $0 == " " })
            }
            lines.append(rest)
        }
        self.init(code: code!, enhanced: enhanced, lines: lines)
    }

    /// The reply as the filter sends it (one CRLF-separated string).
    public var text: String {
        let status = enhanced.map { $0.map(String.init).joined(separator: ".") + " " } ?? ""
        return lines.enumerated().map { n, line in
            "\(code)\(n == lines.count - 1 ? " " : "-")\(status)\(line)"
        }.joined(separator: "\r\n")
    }
}

/// A packet from the filter to the MTA (`SMFIR_*`, and SMFIC_OPTNEG's reply).
public enum MilterReply: Sendable, Equatable {
    /// SMFIC_OPTNEG 'O': what the filter takes of what was offered.
    case negotiate(MilterNegotiation)
    /// SMFIR_ACCEPT 'a': accept without further filtering.
    case accept
    /// SMFIR_CONTINUE 'c'.
    case `continue`
    /// SMFIR_REJECT 'r'.
    case reject
    /// SMFIR_TEMPFAIL 't'.
    case tempfail
    /// SMFIR_DISCARD 'd': accept and throw away.
    case discard
    /// SMFIR_REPLYCODE 'y': reject or tempfail with this reply.
    case replyCode(MilterSMTPReply)
    /// SMFIR_ADDHEADER 'h': name, value.
    case addHeader(name: String, value: [UInt8])
    /// SMFIR_CHGHEADER 'm': index (1-based, among fields of that name), name, value; an empty
    /// value deletes.
    case changeHeader(index: UInt32, name: String, value: [UInt8])
    /// SMFIR_INSHEADER 'i': index (0 = first field), name, value.
    case insertHeader(index: UInt32, name: String, value: [UInt8])
    /// SMFIR_REPLBODY 'b': a chunk of the new body (the chunks are joined).
    case replaceBody([UInt8])
    /// SMFIR_QUARANTINE 'q': the reason.
    case quarantine(reason: String)
    /// SMFIR_CHGFROM 'e': the new sender and its ESMTP parameters, if any.
    case changeSender(String, parameters: String?)
    /// SMFIR_ADDRCPT '+'.
    case addRecipient(String)
    /// SMFIR_ADDRCPT_PAR '2': the recipient and its ESMTP parameters, if any.
    case addRecipientWithParameters(String, parameters: String?)
    /// SMFIR_DELRCPT '-'.
    case deleteRecipient(String)
    /// SMFIR_PROGRESS 'p': still working; the wait starts again.
    case progress
    /// SMFIR_SKIP 's': no more body chunks, please.
    case skip
    /// SMFIR_SHUTDOWN '4': the filter is going away (Postfix: 421).
    case shutdown
    /// SMFIR_CONN_FAIL 'f': fail the connection.
    case connectionFailure

    public var code: UInt8 {
        switch self {
        case .negotiate: UInt8(ascii: "O")
        case .accept: UInt8(ascii: "a")
        case .continue: UInt8(ascii: "c")
        case .reject: UInt8(ascii: "r")
        case .tempfail: UInt8(ascii: "t")
        case .discard: UInt8(ascii: "d")
        case .replyCode: UInt8(ascii: "y")
        case .addHeader: UInt8(ascii: "h")
        case .changeHeader: UInt8(ascii: "m")
        case .insertHeader: UInt8(ascii: "i")
        case .replaceBody: UInt8(ascii: "b")
        case .quarantine: UInt8(ascii: "q")
        case .changeSender: UInt8(ascii: "e")
        case .addRecipient: UInt8(ascii: "+")
        case .addRecipientWithParameters: UInt8(ascii: "2")
        case .deleteRecipient: UInt8(ascii: "-")
        case .progress: UInt8(ascii: "p")
        case .skip: UInt8(ascii: "s")
        case .shutdown: UInt8(ascii: "4")
        case .connectionFailure: UInt8(ascii: "f")
        }
    }

    /// Whether this is one of the message modifications only allowed after SMFIC_BODYEOB, and
    /// the action the filter must have negotiated for it.
    var requiredAction: MilterActions? {
        switch self {
        case .addHeader, .insertHeader: .addHeaders
        case .changeHeader: .changeHeaders
        case .replaceBody: .changeBody
        case .quarantine: .quarantine
        case .changeSender: .changeSender
        case .addRecipient: .addRecipient
        case .addRecipientWithParameters: .addRecipientWithParameters
        case .deleteRecipient: .deleteRecipient
        default: nil
        }
    }
}

/// Why a packet could not be read: the filter is treated as failed (its default action).
public struct MilterProtocolError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
