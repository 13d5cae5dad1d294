import MailCore

/// Checks each command and test of the syntax tree against what it takes (RFC 5228 §3-§5 and
/// each extension's RFC) and builds the typed program. Every refusal names the position of the
/// argument or command at fault.
struct SieveCompiler {
    private(set) var extensions: Set<String> = []
    private var sawOtherCommand = false

    mutating func compile(_ nodes: [SieveCommandNode]) throws(SieveError) -> [SieveStatement] {
        try block(nodes, topLevel: true)
    }

    private func error(_ message: String, at position: SievePosition) -> SieveError {
        SieveError(line: position.line, column: position.column, message: message)
    }

    private func need(_ ext: String, for what: String, at position: SievePosition) throws(SieveError) {
        guard extensions.contains(ext) else { throw error("\(what) needs require \"\(ext)\"", at: position) }
    }

    private mutating func block(_ nodes: [SieveCommandNode], topLevel: Bool) throws(SieveError) -> [SieveStatement] {
        var result: [SieveStatement] = []
        var i = 0
        while i < nodes.count {
            let node = nodes[i]
            i += 1
            if node.name == "require" {
                guard topLevel, !sawOtherCommand else {
                    throw error("require must come before every other command", at: node.position)
                }
                try require(node)
                continue
            }
            sawOtherCommand = true
            switch node.name {
            case "if":
                var branches = [(try condition(of: node), try body(of: node))]
                var otherwise: [SieveStatement]?
                while i < nodes.count, nodes[i].name == "elsif" {
                    branches.append((try condition(of: nodes[i]), try body(of: nodes[i])))
                    i += 1
                }
                if i < nodes.count, nodes[i].name == "else" {
                    let e = nodes[i]
                    guard e.arguments.isEmpty, e.tests.isEmpty else { throw error("else takes no test", at: e.position) }
                    otherwise = try body(of: e)
                    i += 1
                }
                result.append(.conditional(branches, otherwise: otherwise))
            case "elsif", "else":
                throw error("\(node.name) without a preceding if", at: node.position)
            default:
                guard node.block == nil else { throw error("\(node.name) takes no block", at: node.position) }
                guard node.tests.isEmpty else { throw error("\(node.name) takes no test", at: node.position) }
                result.append(try action(node))
            }
        }
        return result
    }

    private mutating func require(_ node: SieveCommandNode) throws(SieveError) {
        var reader = try SieveArguments(node.arguments, owner: "require", at: node.position, encoded: false)
        let (names, position) = try reader.strings("a list of extensions")
        try reader.finish()
        guard node.block == nil, node.tests.isEmpty else { throw error("require takes only a list of extensions", at: node.position) }
        for name in names {
            guard SieveScript.extensions.contains(name) else { throw error("unsupported extension \"\(name)\"", at: position) }
            extensions.insert(name)
        }
    }

    private mutating func condition(of node: SieveCommandNode) throws(SieveError) -> SieveCondition {
        guard node.arguments.isEmpty, node.tests.count == 1 else { throw error("\(node.name) takes exactly one test", at: node.position) }
        return try test(node.tests[0])
    }

    private mutating func body(of node: SieveCommandNode) throws(SieveError) -> [SieveStatement] {
        guard let block = node.block else { throw error("\(node.name) needs a block { ... }", at: node.position) }
        return try self.block(block, topLevel: false)
    }

    // MARK: actions

    private mutating func action(_ node: SieveCommandNode) throws(SieveError) -> SieveStatement {
        var r = try SieveArguments(node.arguments, owner: node.name, at: node.position, encoded: extensions.contains("encoded-character"))
        switch node.name {
        case "stop":
            try r.finish()
            return .stop
        case "discard":
            try r.finish()
            return .discard
        case "keep":
            let tags = try r.tags(["flags": .strings], self)
            try r.finish()
            return .keep(flags: tags.strings("flags"))
        case "fileinto":
            try need("fileinto", for: "fileinto", at: node.position)
            let tags = try r.tags(["copy": .flag, "create": .flag, "flags": .strings], self)
            let (mailbox, _) = try r.string("a mailbox name")
            try r.finish()
            return .fileinto(mailbox, flags: tags.strings("flags"),
                             copy: tags.has("copy"), create: tags.has("create"))
        case "redirect":
            let tags = try r.tags(["copy": .flag], self)
            let (address, position) = try r.string("an address")
            try r.finish()
            let expanded = address
            if !extensions.contains("variables"), (try? EmailAddress.parse(expanded)) == nil {
                throw error("redirect: \"\(expanded)\" is not an address", at: position)
            }
            return .redirect(expanded, copy: tags.has("copy"))
        case "reject", "ereject":
            try need(node.name, for: node.name, at: node.position)
            let (reason, _) = try r.string("a reason")
            try r.finish()
            return .reject(reason, ereject: node.name == "ereject")
        case "vacation":
            return try vacation(node, &r)
        case "setflag", "addflag", "removeflag":
            try need("imap4flags", for: node.name, at: node.position)
            let first = try r.strings("a list of flags")
            var variable: String?
            var flags = first.0
            if r.remaining > 0 {
                guard first.0.count == 1 else { throw error("\(node.name): the variable name must be one string", at: first.1) }
                try need("variables", for: "a flag variable", at: first.1)
                variable = try variableName(first.0[0], at: first.1)
                flags = try r.strings("a list of flags").0
            }
            try r.finish()
            let operation: SieveFlagOperation = node.name == "setflag" ? .set : node.name == "addflag" ? .add : .remove
            return .flags(operation, variable: variable, flags)
        case "set":
            try need("variables", for: "set", at: node.position)
            var modifiers: [SieveSetModifier] = []
            while case .tag(let t, let p)? = r.peek {
                guard let m = SieveSetModifier(rawValue: t) else { throw error("set: unknown modifier :\(t)", at: p) }
                guard !modifiers.contains(where: { $0.precedence == m.precedence }) else {
                    throw error("set: :\(t) conflicts with another modifier of the same kind", at: p)
                }
                modifiers.append(m)
                r.skip()
            }
            let (name, namePosition) = try r.string("a variable name")
            let (value, _) = try r.string("a value")
            try r.finish()
            return .set(try variableName(name, at: namePosition), value,
                        modifiers: modifiers.sorted { $0.precedence > $1.precedence })
        default:
            throw error("unknown command \"\(node.name)\"", at: node.position)
        }
    }

    private func vacation(_ node: SieveCommandNode, _ r: inout SieveArguments) throws(SieveError) -> SieveStatement {
        try need("vacation", for: "vacation", at: node.position)
        let tags = try r.tags(["days": .number, "seconds": .number, "subject": .string, "from": .string,
                               "addresses": .strings, "mime": .flag, "handle": .string], self)
        let (reason, _) = try r.string("the reply's text")
        try r.finish()
        if tags.has("days"), tags.has("seconds") { throw error("vacation: :days and :seconds together", at: node.position) }
        // RFC 5230 §4.1 and RFC 6131 §2: at least a day (or any seconds), at most a year here.
        let period = if let seconds = tags.number("seconds") { min(seconds, 365 * 86400) }
                     else { min(max(tags.number("days") ?? 7, 1), 365) * 86400 }
        if let from = tags.string("from"), !extensions.contains("variables"), AddressListEntry.parseAddressList(from).isEmpty {
            throw error("vacation: :from \"\(from)\" is not an address", at: node.position)
        }
        return .vacation(SieveVacationSpec(period: period, subject: tags.string("subject"),
                                           from: tags.string("from"), addresses: tags.strings("addresses") ?? [],
                                           mime: tags.has("mime"), handle: tags.string("handle"), reason: reason))
    }

    // MARK: tests

    private mutating func test(_ node: SieveTestNode) throws(SieveError) -> SieveCondition {
        var r = try SieveArguments(node.arguments, owner: node.name, at: node.position, encoded: extensions.contains("encoded-character"))
        func noTests() throws(SieveError) {
            guard node.tests.isEmpty else { throw error("\(node.name) takes no nested test", at: node.position) }
        }
        switch node.name {
        case "true", "false":
            try r.finish(); try noTests()
            return .constant(node.name == "true")
        case "not":
            try r.finish()
            guard node.tests.count == 1 else { throw error("not takes one test", at: node.position) }
            return .not(try test(node.tests[0]))
        case "allof", "anyof":
            try r.finish()
            guard !node.tests.isEmpty else { throw error("\(node.name) takes a list of tests", at: node.position) }
            var tests: [SieveCondition] = []
            for t in node.tests { tests.append(try test(t)) }
            return node.name == "allof" ? .allOf(tests) : .anyOf(tests)
        default:
            try noTests()
        }
        switch node.name {
        case "address":
            let tags = try r.tags(Self.matchTags.merging(Self.addressTags) { a, _ in a }.merging(Self.indexTags) { a, _ in a }, self)
            let headers = try r.strings("header names").0
            let keys = try r.strings("a key list").0
            try r.finish()
            return .address(try matcher(tags, at: node.position), try addressPart(tags, at: node.position),
                            try index(tags, at: node.position), headers: headers, keys: keys)
        case "envelope":
            try need("envelope", for: "envelope", at: node.position)
            let tags = try r.tags(Self.matchTags.merging(Self.addressTags) { a, _ in a }, self)
            let (parts, position) = try r.strings("envelope parts")
            let keys = try r.strings("a key list").0
            try r.finish()
            if !extensions.contains("variables") {
                for part in parts where !["from", "to"].contains(part.lowercased()) {
                    throw error("envelope: unknown part \"\(part)\" (from or to)", at: position)
                }
            }
            return .envelope(try matcher(tags, at: node.position), try addressPart(tags, at: node.position), parts: parts, keys: keys)
        case "header":
            let tags = try r.tags(Self.matchTags.merging(Self.indexTags) { a, _ in a }, self)
            let headers = try r.strings("header names").0
            let keys = try r.strings("a key list").0
            try r.finish()
            return .header(try matcher(tags, at: node.position), try index(tags, at: node.position), headers: headers, keys: keys)
        case "exists":
            let headers = try r.strings("header names").0
            try r.finish()
            return .exists(headers)
        case "size":
            let tags = try r.tags(["over": .flag, "under": .flag], self)
            let (limit, _) = try r.number("a size")
            try r.finish()
            guard tags.has("over") != tags.has("under") else { throw error("size takes one of :over or :under", at: node.position) }
            return .size(over: tags.has("over"), limit: limit)
        case "body":
            try need("body", for: "body", at: node.position)
            let tags = try r.tags(Self.matchTags.merging(["raw": .flag, "text": .flag, "content": .strings]) { a, _ in a }, self)
            let keys = try r.strings("a key list").0
            try r.finish()
            let transforms = ["raw", "text", "content"].filter { tags.has($0) }
            guard transforms.count <= 1 else { throw error("body takes one of :raw, :text, :content", at: node.position) }
            let transform: SieveBodyTransform = tags.has("raw") ? .raw : tags.strings("content").map { .content($0) } ?? .text
            return .body(try matcher(tags, at: node.position), transform, keys: keys)
        case "hasflag":
            try need("imap4flags", for: "hasflag", at: node.position)
            let tags = try r.tags(Self.matchTags, self)
            let first = try r.strings("a list of flags")
            var variables: [String]?
            var keys = first.0
            if r.remaining > 0 {
                try need("variables", for: "hasflag with variables", at: first.1)
                variables = try first.0.map { s throws(SieveError) in try variableName(s, at: first.1) }
                keys = try r.strings("a list of flags").0
            }
            try r.finish()
            return .hasFlag(try matcher(tags, at: node.position), variables: variables, keys: keys)
        case "string":
            try need("variables", for: "string", at: node.position)
            let tags = try r.tags(Self.matchTags, self)
            let sources = try r.strings("source strings").0
            let keys = try r.strings("a key list").0
            try r.finish()
            return .string(try matcher(tags, at: node.position), sources: sources, keys: keys)
        case "date", "currentdate":
            try need("date", for: node.name, at: node.position)
            var spec = Self.matchTags
            spec["zone"] = .string
            if node.name == "date" {
                spec["originalzone"] = .flag
                spec.merge(Self.indexTags) { a, _ in a }
            }
            let tags = try r.tags(spec, self)
            var header = ""
            if node.name == "date" { header = try r.string("a header name").0 }
            let (part, partPosition) = try r.string("a date part")
            let keys = try r.strings("a key list").0
            try r.finish()
            if !extensions.contains("variables"), !SieveDate.parts.contains(part.lowercased()) {
                throw error("unknown date part \"\(part)\"", at: partPosition)
            }
            if tags.has("zone"), tags.has("originalzone") {
                let later = [tags.positions["zone"]!, tags.positions["originalzone"]!].max { ($0.line, $0.column) < ($1.line, $1.column) }!
                throw error("date: :zone and :originalzone together", at: later)
            }
            var zone = SieveZone.local
            if let z = tags.string("zone") {
                guard SieveDate.offset(z) != nil else { throw error("date: \"\(z)\" is not a zone such as +0100", at: node.position) }
                zone = .fixed(z)
            } else if tags.has("originalzone") {
                zone = .original
            }
            let matcher = try matcher(tags, at: node.position)
            if node.name == "date" {
                return .date(matcher, try index(tags, at: node.position), zone, header: header, part: part, keys: keys)
            }
            return .currentDate(matcher, zone, part: part, keys: keys)
        case "mailboxexists":
            try need("mailbox", for: "mailboxexists", at: node.position)
            let names = try r.strings("mailbox names").0
            try r.finish()
            return .mailboxExists(names)
        default:
            throw error("unknown test \"\(node.name)\"", at: node.position)
        }
    }

    private static let matchTags: [String: SieveArguments.Kind] = [
        "is": .flag, "contains": .flag, "matches": .flag, "value": .string, "count": .string, "comparator": .string,
    ]
    private static let addressTags: [String: SieveArguments.Kind] = [
        "all": .flag, "localpart": .flag, "domain": .flag, "user": .flag, "detail": .flag,
    ]
    private static let indexTags: [String: SieveArguments.Kind] = ["index": .number, "last": .flag]

    private func matcher(_ tags: SieveArguments.Tags, at position: SievePosition) throws(SieveError) -> SieveMatcher {
        var m = SieveMatcher()
        let types = ["is", "contains", "matches", "value", "count"].filter { tags.has($0) }
        guard types.count <= 1 else {
            let second = types.compactMap { tags.positions[$0] }.sorted { ($0.line, $0.column) < ($1.line, $1.column) }.last
            throw error("more than one match type (:\(types.joined(separator: ", :")))", at: second ?? position)
        }
        switch types.first {
        case "contains": m.type = .contains
        case "matches": m.type = .matches
        case "value", "count":
            let name = types[0]
            let text = tags.string(name) ?? ""
            guard let relation = SieveRelation(rawValue: text.lowercased()) else {
                throw error(":\(name) \"\(text)\" is not a relation (gt, ge, lt, le, eq, ne)", at: position)
            }
            m.type = name == "value" ? .value(relation) : .count(relation)
        default: break
        }
        if let name = tags.string("comparator") {
            switch name.lowercased() {
            case "i;octet": m.comparator = .octet
            case "i;ascii-casemap": m.comparator = .asciiCasemap
            case "i;ascii-numeric":
                try need("comparator-i;ascii-numeric", for: "comparator i;ascii-numeric", at: position)
                m.comparator = .asciiNumeric
                if m.type == .contains || m.type == .matches {
                    throw error("i;ascii-numeric compares whole values: not with :contains or :matches", at: position)
                }
            default:
                throw error("unknown comparator \"\(name)\"", at: position)
            }
        }
        return m
    }

    private func addressPart(_ tags: SieveArguments.Tags, at position: SievePosition) throws(SieveError) -> SieveAddressPart {
        let parts = ["all", "localpart", "domain", "user", "detail"].filter { tags.has($0) }
        guard parts.count <= 1 else { throw error("more than one address part", at: position) }
        switch parts.first {
        case "localpart": return .localpart
        case "domain": return .domain
        case "user": return .user
        case "detail": return .detail
        default: return .all
        }
    }

    private func index(_ tags: SieveArguments.Tags, at position: SievePosition) throws(SieveError) -> SieveHeaderIndex? {
        if tags.has("last"), !tags.has("index") { throw error(":last needs :index", at: position) }
        guard let n = tags.number("index") else { return nil }
        guard n >= 1 else { throw error(":index counts from 1", at: position) }
        return SieveHeaderIndex(index: n, last: tags.has("last"))
    }

    /// RFC 5229 §3: identifiers, case-insensitive (stored lowercased).
    private func variableName(_ name: String, at position: SievePosition) throws(SieveError) -> String {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "_") || ASCIIClass.isAlpha(first),
              bytes.allSatisfy({ $0 == UInt8(ascii: "_") || ASCIIClass.isAlpha($0) || ASCIIClass.isDigit($0) }) else {
            throw error("\"\(name)\" is not a variable name", at: position)
        }
        return name.lowercased()
    }
}

enum ASCIIClass {
    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
