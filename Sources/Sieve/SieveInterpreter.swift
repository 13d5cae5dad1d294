import Foundation
import MailCore

/// Runs a checked program against one message (RFC 5228 §2.10). Failures at run time (a
/// mailbox that does not exist, too many redirects, conflicting actions) end the run with the
/// implicit keep alone, as §2.10.6 asks.
struct SieveInterpreter {
    /// RFC 5228 §2.10.6 lets an implementation bound what a script may do.
    static let maxRedirects = 4
    static let maxActions = 64
    static let maxVariableLength = 64 * 1024
    static let maxVariables = 256

    struct RuntimeError: Error {
        var message: String
    }

    private let context: SieveContext
    private let variablesEnabled: Bool
    private var actions: [SieveAction] = []
    private var implicitKeep = true
    private var flags: [String] = []
    private var variables: [String: String] = [:]
    private var matchVariables: [String] = []
    private var redirects = 0
    private var rejected = false
    private var stored = false
    private var vacationSeen = false
    private lazy var parsed: (header: MessageHeader, bodyOffset: Int) = MessageHeader.parse(context.message)

    init(context: SieveContext, extensions: Set<String>) {
        self.context = context
        self.variablesEnabled = extensions.contains("variables")
    }

    mutating func run(_ program: [SieveStatement]) -> SieveOutcome {
        do {
            let stopped = !(try execute(program))
            // A keep already named (explicitly) is the same copy: then the keep is not implicit.
            let kept = implicitKeep && !actions.contains { if case .keep = $0 { true } else { false } }
            if implicitKeep { try store(mailbox: nil, flags: flags) }
            return SieveOutcome(actions: actions, implicitKeep: kept, stopped: stopped)
        } catch {
            return SieveOutcome(actions: [.keep(flags: [])], error: error.message, implicitKeep: true)
        }
    }

    /// False when `stop` ended the script.
    private mutating func execute(_ statements: [SieveStatement]) throws(RuntimeError) -> Bool {
        for statement in statements {
            switch statement {
            case .conditional(let branches, let otherwise):
                var taken = false
                for (condition, body) in branches where try evaluate(condition) {
                    taken = true
                    guard try execute(body) else { return false }
                    break
                }
                if !taken, let otherwise { guard try execute(otherwise) else { return false } }
            case .stop:
                return false
            case .keep(let explicit):
                implicitKeep = false
                try store(mailbox: nil, flags: explicit.map(expandFlags) ?? flags)
            case .discard:
                implicitKeep = false
            case .fileinto(let mailbox, let explicit, let copy, let create):
                let name = expand(mailbox)
                guard !name.isEmpty else { throw RuntimeError(message: "fileinto: empty mailbox name") }
                if !create, !Self.isInbox(name), !context.mailboxExists(name) {
                    throw RuntimeError(message: "fileinto: mailbox \"\(name)\" does not exist")
                }
                if !copy { implicitKeep = false }
                try store(mailbox: name, flags: explicit.map(expandFlags) ?? flags, create: create)
            case .redirect(let address, let copy):
                let target = expand(address)
                guard let parsed = try? EmailAddress.parse(target) else {
                    throw RuntimeError(message: "redirect: \"\(target)\" is not an address")
                }
                if !copy { implicitKeep = false }
                let normalized = parsed.description
                guard !actions.contains(.redirect(address: normalized)) else { continue }
                redirects += 1
                guard redirects <= Self.maxRedirects else {
                    throw RuntimeError(message: "more than \(Self.maxRedirects) redirects")
                }
                try append(.redirect(address: normalized))
            case .reject(let reason, let ereject):
                guard !rejected else { throw RuntimeError(message: "reject used twice") }
                guard !stored, !vacationSeen else { throw RuntimeError(message: "reject cannot be combined with keep, fileinto or vacation (RFC 5429 §2.1)") }
                rejected = true
                implicitKeep = false
                try append(.reject(reason: expand(reason), ereject: ereject))
            case .vacation(let spec):
                guard !vacationSeen else { throw RuntimeError(message: "vacation used twice") }
                guard !rejected else { throw RuntimeError(message: "vacation cannot be combined with reject (RFC 5429 §2.1)") }
                vacationSeen = true
                if let reply = vacationReply(spec) { try append(.vacation(reply)) }
            case .flags(let operation, let variable, let list):
                let given = expandFlags(list)
                var current = variable.map { Self.splitFlags(variables[$0] ?? "") } ?? flags
                switch operation {
                case .set: current = given
                case .add: current = Self.uniqueFlags(current + given)
                case .remove: current.removeAll { f in given.contains { $0.caseInsensitiveCompare(f) == .orderedSame } }
                }
                if let variable { try setVariable(variable, current.joined(separator: " ")) } else { flags = current }
            case .set(let name, let value, let modifiers):
                var v = expand(value)
                for m in modifiers { v = Self.apply(m, to: v) }
                try setVariable(name, v)
            }
        }
        return true
    }

    private static func isInbox(_ name: String) -> Bool { name.caseInsensitiveCompare("INBOX") == .orderedSame }

    /// keep and fileinto: one copy per mailbox, however often it is named (RFC 5228 §2.10.3);
    /// `fileinto "INBOX"` is the same copy as keep.
    private mutating func store(mailbox: String?, flags: [String], create: Bool = false) throws(RuntimeError) {
        guard !rejected else { throw RuntimeError(message: "reject cannot be combined with keep or fileinto (RFC 5429 §2.1)") }
        stored = true
        let target = mailbox.flatMap { Self.isInbox($0) ? nil : $0 }
        // The same mailbox again: one copy, with the flags named last (as Pigeonhole does).
        if let i = actions.firstIndex(where: {
            switch $0 {
            case .keep: target == nil
            case .fileinto(let m, _, _): target == m
            default: false
            }
        }) {
            switch actions[i] {
            case .keep: actions[i] = .keep(flags: flags)
            case .fileinto(let m, _, let c): actions[i] = .fileinto(mailbox: m, flags: flags, create: c || create)
            default: break
            }
            return
        }
        if let target {
            try append(.fileinto(mailbox: target, flags: flags, create: create))
        } else {
            try append(.keep(flags: flags))
        }
    }

    private mutating func append(_ action: SieveAction) throws(RuntimeError) {
        guard actions.count < Self.maxActions else { throw RuntimeError(message: "more than \(Self.maxActions) actions") }
        actions.append(action)
    }

    private mutating func setVariable(_ name: String, _ value: String) throws(RuntimeError) {
        guard variables[name] != nil || variables.count < Self.maxVariables else {
            throw RuntimeError(message: "more than \(Self.maxVariables) variables")
        }
        variables[name] = value.utf8.count > Self.maxVariableLength ? String(value.prefix(Self.maxVariableLength / 4)) : value
    }

    // MARK: strings

    /// RFC 5229 §3: `${name}` and `${N}` (match variables) in every string once "variables" is
    /// required; an unknown variable is the empty string; a malformed reference stays as written.
    private func expand(_ s: String) -> String {
        guard variablesEnabled, s.contains("${") else { return s }
        let scalars = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if scalars[i] == "$", i + 1 < scalars.count, scalars[i + 1] == "{" {
                var j = i + 2
                while j < scalars.count, scalars[j].isASCII, Self.isNameByte(UInt8(scalars[j].value)) { j += 1 }
                if j < scalars.count, scalars[j] == "}", j > i + 2 {
                    let name = String(String.UnicodeScalarView(scalars[(i + 2)..<j])).lowercased()
                    if let value = lookup(name) {
                        out.append(contentsOf: value.unicodeScalars)
                        i = j + 1
                        continue
                    }
                }
            }
            out.append(scalars[i])
            i += 1
        }
        return String(out)
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || ASCIIClass.isAlpha(c) || ASCIIClass.isDigit(c)
    }

    /// nil: not a variable name (left as written).
    private func lookup(_ name: String) -> String? {
        if name.allSatisfy(\.isASCIIDigitCharacter) {
            guard let n = Int(name.prefix(6)) else { return "" }
            return n < matchVariables.count ? matchVariables[n] : ""
        }
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || ASCIIClass.isAlpha(first), !name.contains(".") else { return nil }
        return variables[name] ?? ""
    }

    private func expandFlags(_ list: [String]) -> [String] {
        Self.uniqueFlags(list.flatMap { Self.splitFlags(expand($0)) })
    }

    /// RFC 5232 §3: a flag list is space-separated; flags compare without case.
    static func splitFlags(_ s: String) -> [String] {
        s.split(separator: " ").map(String.init)
    }

    static func uniqueFlags(_ list: [String]) -> [String] {
        var result: [String] = []
        for f in list where !result.contains(where: { $0.caseInsensitiveCompare(f) == .orderedSame }) { result.append(f) }
        return result
    }

    static func apply(_ modifier: SieveSetModifier, to v: String) -> String {
        switch modifier {
        case .lower: return v.lowercased()
        case .upper: return v.uppercased()
        case .lowerfirst: return v.prefix(1).lowercased() + v.dropFirst()
        case .upperfirst: return v.prefix(1).uppercased() + v.dropFirst()
        case .quotewildcard:
            var out = ""
            for c in v {
                if c == "*" || c == "?" || c == "\\" { out.append("\\") }
                out.append(c)
            }
            return out
        case .length: return String(v.count)
        }
    }

    // MARK: tests

    private mutating func evaluate(_ condition: SieveCondition) throws(RuntimeError) -> Bool {
        switch condition {
        case .constant(let b): return b
        case .not(let c): return !(try evaluate(c))
        case .allOf(let list):
            for c in list where !(try evaluate(c)) { return false }
            return true
        case .anyOf(let list):
            for c in list where try evaluate(c) { return true }
            return false
        case .address(let matcher, let part, let index, let headers, let keys):
            var values: [String] = []
            for field in fields(headers, index) {
                for entry in AddressListEntry.parseAddressList(field.value) {
                    for mailbox in entry.mailboxes {
                        if let v = Self.part(part, of: mailbox.addrSpec, localPart: mailbox.localPart, domain: mailbox.domain ?? "") {
                            values.append(v)
                        }
                    }
                }
            }
            return match(matcher, values, keys)
        case .envelope(let matcher, let part, let parts, let keys):
            var values: [String] = []
            for name in parts.map({ expand($0).lowercased() }) {
                let address: String
                switch name {
                case "from": address = context.envelopeFrom
                case "to": address = context.envelopeTo
                default: throw RuntimeError(message: "envelope: unknown part \"\(name)\"")
                }
                // RFC 5228 §5.4: the null reverse-path is the empty string, whatever the part.
                if address.isEmpty {
                    values.append("")
                    continue
                }
                let at = address.lastIndex(of: "@")
                let local = at.map { String(address[..<$0]) } ?? address
                let domain = at.map { String(address[address.index(after: $0)...]) } ?? ""
                if let v = Self.part(part, of: address, localPart: local, domain: domain) { values.append(v) }
            }
            return match(matcher, values, keys)
        case .header(let matcher, let index, let headers, let keys):
            return match(matcher, fields(headers, index).map { EncodedWord.decode($0.value) }, keys)
        case .exists(let headers):
            let header = parsed.header
            return headers.allSatisfy { !header.all(expand($0)).isEmpty }
        case .size(let over, let limit):
            return over ? context.message.count > limit : context.message.count < limit
        case .body(let matcher, let transform, let keys):
            return match(matcher, bodyTexts(transform), keys)
        case .hasFlag(let matcher, let names, let keys):
            let values = names.map { $0.flatMap { Self.splitFlags(variables[$0] ?? "") } } ?? flags
            return match(matcher, values, keys)
        case .string(let matcher, let sources, let keys):
            var values = sources.map(expand)
            // RFC 5229 §5: :count counts the sources that are not empty.
            if case .count = matcher.type { values.removeAll { $0.isEmpty } }
            return match(matcher, values, keys)
        case .date(let matcher, let index, let zone, let header, let part, let keys):
            var values: [String] = []
            for field in fields([header], index) {
                guard let (date, original) = RFC5322Date.parseWithOffset(field.value) else { continue }
                let offset = switch zone {
                case .local: context.localOffset
                case .fixed(let z): SieveDate.offset(z) ?? 0
                case .original: original
                }
                guard let v = SieveDate.part(expand(part), of: date, offset: offset) else {
                    throw RuntimeError(message: "unknown date part \"\(expand(part))\"")
                }
                values.append(v)
            }
            return match(matcher, values, keys)
        case .currentDate(let matcher, let zone, let part, let keys):
            let offset = switch zone {
            case .fixed(let z): SieveDate.offset(z) ?? 0
            case .local, .original: context.localOffset
            }
            guard let v = SieveDate.part(expand(part), of: context.now, offset: offset) else {
                throw RuntimeError(message: "unknown date part \"\(expand(part))\"")
            }
            return match(matcher, [v], keys)
        case .mailboxExists(let names):
            return names.allSatisfy { context.mailboxExists(expand($0)) }
        }
    }

    private mutating func match(_ matcher: SieveMatcher, _ values: [String], _ keys: [String]) -> Bool {
        let result = matcher.test(values, keys.map(expand))
        if result.matched, let captures = result.captures, variablesEnabled { matchVariables = captures }
        return result.matched
    }

    /// The named fields, all of them or the one `:index` picks (RFC 5260 §6).
    private mutating func fields(_ names: [String], _ index: SieveHeaderIndex?) -> [HeaderField] {
        let header = parsed.header
        var result: [HeaderField] = []
        for name in names.map(expand) {
            let all = header.all(name)
            guard let index else {
                result += all
                continue
            }
            guard index.index <= all.count else { continue }
            result.append(index.last ? all[all.count - index.index] : all[index.index - 1])
        }
        return result
    }

    static func part(_ part: SieveAddressPart, of address: String, localPart: String, domain: String) -> String? {
        switch part {
        case .all: return address
        case .localpart: return localPart
        case .domain: return domain
        // RFC 5233 §4: the separator is "+"; without one, :detail matches nothing.
        case .user: return localPart.firstIndex(of: "+").map { String(localPart[..<$0]) } ?? localPart
        case .detail: return localPart.firstIndex(of: "+").map { String(localPart[localPart.index(after: $0)...]) }
        }
    }

    /// RFC 5173 §5: `:raw` is the undecoded body; `:content` the decoded text of each part of
    /// the listed types ("text" = any text/*, "" = every leaf); `:text` is `:content "text"`.
    private mutating func bodyTexts(_ transform: SieveBodyTransform) -> [String] {
        let message = context.message
        // A message without a body (no empty line after its header): every body test is false.
        guard parsed.bodyOffset < message.count else { return [] }
        switch transform {
        case .raw:
            return [String(decoding: message[min(parsed.bodyOffset, message.count)...], as: UTF8.self)]
        case .text:
            return Self.texts(MIMEPart.parse(message), types: ["text"], in: message)
        case .content(let types):
            return Self.texts(MIMEPart.parse(message), types: types.map { expand($0).lowercased() }, in: message)
        }
    }

    private static func texts(_ part: MIMEPart, types: [String], in message: [UInt8]) -> [String] {
        if !part.children.isEmpty {
            return part.children.flatMap { texts($0, types: types, in: message) }
        }
        let type = part.contentType.type.lowercased(), full = part.contentType.mimeType.lowercased()
        guard types.contains(where: { $0.isEmpty || $0 == type || $0 == full }) else { return [] }
        guard let decoded = part.decodedBody(in: message) else { return [] }
        let charset = part.contentType.parameter("charset") ?? "us-ascii"
        return [MailCharset.decode(decoded, charset: charset) ?? String(decoding: decoded, as: UTF8.self)]
    }

    // MARK: vacation

    /// RFC 5230 §4.5-§4.6 and RFC 3834: no reply to the null sender, to automatic or list mail,
    /// to the user's own address, or to mail not addressed to the user.
    private mutating func vacationReply(_ spec: SieveVacationSpec) -> SieveVacation? {
        let sender = context.envelopeFrom
        guard !sender.isEmpty else { return nil }
        let header = parsed.header
        let local = sender.split(separator: "@").first.map { $0.lowercased() } ?? ""
        if local == "mailer-daemon" || local.hasPrefix("owner-") || local.hasSuffix("-request") || local == "listserv"
            || local == "majordomo" { return nil }
        if let auto = header.first("Auto-Submitted"), !auto.value.lowercased().hasPrefix("no") { return nil }
        for name in ["List-Id", "List-Help", "List-Subscribe", "List-Unsubscribe", "List-Post", "List-Owner", "List-Archive"]
            where header.first(name) != nil { return nil }
        if let precedence = header.first("Precedence")?.value.lowercased(), ["bulk", "list", "junk"].contains(precedence) { return nil }
        let own = Set((context.userAddresses + spec.addresses.map(expand)).map { $0.lowercased() })
        guard !own.contains(sender.lowercased()) else { return nil }
        var addressed = false
        for name in ["To", "Cc", "Bcc", "Resent-To", "Resent-Cc"] {
            for field in header.all(name) {
                for entry in AddressListEntry.parseAddressList(field.value) {
                    for mailbox in entry.mailboxes where own.contains(mailbox.addrSpec.lowercased()) { addressed = true }
                }
            }
        }
        guard addressed else { return nil }
        let original = header.first("Subject").map { EncodedWord.decode($0.value) } ?? ""
        let subject = spec.subject.map(expand) ?? (original.isEmpty ? "Automated reply" : "Auto: \(original)")
        let reason = expand(spec.reason)
        let from = spec.from.map(expand)
        // RFC 5230 §4.2: without :handle, the same vacation command is the one with the same
        // arguments as written (not the subject made for each message, which would answer a
        // sender again for every new subject).
        let handle = spec.handle.map(expand)
            ?? Self.hash("\(spec.subject ?? "")\u{0}\(spec.from ?? "")\u{0}\(spec.mime)\u{0}\(spec.reason)")
        return SieveVacation(recipient: sender, from: from, subject: subject, reason: reason, mime: spec.mime, handle: handle,
                             period: spec.period, inReplyTo: header.first("Message-ID")?.value)
    }

    /// FNV-1a, 64 bits: a short stable handle (RFC 5230 §4.2 leaves the derivation open).
    static func hash(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return String(h, radix: 16)
    }
}

private extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
