import Foundation

/// The results of check_host() (RFC 7208 §2.6); the raw values are the names §8 gives them,
/// as `Received-SPF:` and `Authentication-Results:` (RFC 8601 §2.7.2) write them.
public enum SPFResult: String, Sendable {
    case none, neutral, pass, fail, softfail, temperror, permerror
}

/// What an SPF check found.
public struct SPFOutcome: Sendable, Equatable {
    public let result: SPFResult
    /// The domain checked: the reverse-path's domain, or the HELO name (RFC 7208 §2.3, §2.4),
    /// lowercased and without a final dot.
    public let domain: String
    /// For "fail", the publisher's `exp=` text (RFC 7208 §6.2) or a default; for "temperror" and
    /// "permerror", the reason; otherwise nil.
    public let explanation: String?

    public init(result: SPFResult, domain: String, explanation: String? = nil) {
        self.result = result
        self.domain = domain
        self.explanation = explanation
    }
}

/// The processing limits of RFC 7208 §4.6.4 and a bound on record size.
public struct SPFLimits: Sendable {
    /// Terms that query DNS (include, a, mx, ptr, exists, redirect) per check; "MUST" be at most 10.
    public var dnsMechanisms = 10
    /// Terms whose lookup found no name or no records; §4.6.4 recommends two.
    public var voidLookups = 2
    /// MX names one `mx` may look at (more is "permerror"), and PTR names one `ptr` or `%{p}`
    /// validates (the rest are ignored); §4.6.4 says 10.
    public var mxOrPtrNames = 10
    /// An SPF record (or explanation) longer than this is refused ("permerror", or for an
    /// explanation the default text). RFC 7208 §3.4 asks publishers to stay under 450 octets;
    /// this leaves room for the large records some providers publish.
    public var maxRecordLength = 4096

    public init() {}
}

/// check_host() of RFC 7208 §4: pure, with every DNS query going through the resolver and
/// every query counted against `SPFLimits`. The caller should also bound the elapsed time
/// (§4.6.4 suggests at least 20 seconds) and treat running out as "temperror".
public struct SPFVerifier: Sendable {
    let resolver: any AuthenticationResolver
    let limits: SPFLimits
    /// Seconds since the epoch, for the `t` macro (§7.3); injected so checks stay reproducible.
    let now: @Sendable () -> Int

    public init(
        resolver: any AuthenticationResolver, limits: SPFLimits = SPFLimits(),
        now: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }
    ) {
        self.resolver = resolver
        self.limits = limits
        self.now = now
    }

    /// RFC 7208 §2.4 check_host for MAIL FROM: `sender` is the reverse-path ("" for <>: then
    /// postmaster@helo is checked), `helo` the EHLO/HELO name, `ip` the client IP as text (IPv4 or
    /// IPv6; IPv4-mapped IPv6 treated as IPv4).
    public func checkMailFrom(ip: String, sender: String, helo: String) async -> SPFOutcome {
        var path = Substring(sender)
        if path.hasPrefix("<"), path.hasSuffix(">") { path = path.dropFirst().dropLast() }
        guard !path.isEmpty else { return await checkHelo(ip: ip, helo: helo) }
        // §4.3: the domain follows the last "@" (a quoted local-part may hold "@"); a missing
        // local-part becomes "postmaster".
        guard let at = path.lastIndex(of: "@") else {
            return await check(ip: ip, localPart: "postmaster", domain: String(path), helo: helo)
        }
        let local = path[..<at]
        return await check(ip: ip, localPart: local.isEmpty ? "postmaster" : String(local),
                           domain: String(path[path.index(after: at)...]), helo: helo)
    }

    /// RFC 7208 §2.3 check of the HELO identity (postmaster@helo).
    public func checkHelo(ip: String, helo: String) async -> SPFOutcome {
        await check(ip: ip, localPart: "postmaster", domain: helo, helo: helo)
    }

    /// The explanation of a "fail" whose record names none (§6.2 leaves it to the receiver).
    static func defaultExplanation(ip: String, domain: String) -> String {
        "\(domain) does not designate \(ip) as a permitted sender (SPF fail)"
    }

    private func check(ip: String, localPart: String, domain: String, helo: String) async -> SPFOutcome {
        let name = domain.hasSuffix(".") ? String(domain.dropLast()) : domain
        let reported = name.lowercased()
        guard let address = SPFAddress(client: ip) else {
            return SPFOutcome(result: .none, domain: reported, explanation: "the client address '\(ip)' is not an IP address")
        }
        // §4.3: a malformed or single-label domain gives "none" without any query.
        guard Self.isCheckableDomain(name) else { return SPFOutcome(result: .none, domain: reported) }
        let context = Context(ip: address, localPart: localPart, senderDomain: name, helo: helo)
        var state = State()
        let host = await checkHost(name, context, chain: [], &state)
        switch host.result {
        case .fail:
            var text: String?
            if let source = host.explanation {
                text = await explanation(source.spec, domain: source.domain, context, &state)
            }
            return SPFOutcome(result: .fail, domain: reported,
                              explanation: text ?? Self.defaultExplanation(ip: address.readable, domain: reported))
        case .temperror, .permerror:
            return SPFOutcome(result: host.result, domain: reported, explanation: host.reason)
        case .none, .neutral, .pass, .softfail:
            return SPFOutcome(result: host.result, domain: reported)
        }
    }

    // MARK: - check_host() (§4)

    /// What stays fixed through one check, includes and redirects included (§4.1, §7.3).
    struct Context: Sendable {
        var ip: SPFAddress
        var localPart: String
        var senderDomain: String
        var helo: String
    }

    /// What one check counts (§4.6.4) and caches.
    struct State: Sendable {
        var dnsTerms = 0
        var voidLookups = 0
        /// The validated names of `<ip>` for `%{p}`, looked up once (§7.3).
        var validatedNames: [String]?
    }

    /// check_host()'s answer before the top level turns it into an `SPFOutcome`.
    struct HostResult: Sendable {
        var result: SPFResult
        var reason: String?
        /// For a "fail" from a mechanism of a record with `exp=`: that domain-spec and the
        /// `<domain>` its macros see (§6.2).
        var explanation: (spec: SPFMacroString, domain: String)?

        static let noRecord = HostResult(result: .none)
        static let neutral = HostResult(result: .neutral)
        static func permerror(_ reason: String) -> HostResult { HostResult(result: .permerror, reason: reason) }
        static func temperror(_ reason: String) -> HostResult { HostResult(result: .temperror, reason: reason) }
    }

    private enum Match {
        case match, noMatch
        /// check_host() stops with this result (§4.6.4, §5.2, §5: DNS errors).
        case stop(HostResult)
    }

    /// RFC 7208 §4: `domain` is already a name we may query. `chain` holds the domains of the
    /// includes and redirects being evaluated, so a loop stops at once rather than at the limit.
    private func checkHost(_ domain: String, _ context: Context, chain: [String], _ state: inout State) async -> HostResult {
        let key = domain.lowercased()
        guard !chain.contains(key) else { return .permerror("include or redirect loop at \(domain)") }
        guard chain.count <= limits.dnsMechanisms else { return .permerror("includes and redirects nest too deeply") }
        // §4.4: a temporary failure is "temperror"; no name or no TXT records is "none".
        let texts: [String]
        do {
            texts = try await resolver.txt(domain)
        } catch {
            switch error {
            case .nxdomain, .noData: return .noRecord
            case .temporary(let message): return .temperror("DNS error looking up TXT \(domain): \(message)")
            }
        }
        // §4.5: exactly one record may start with "v=spf1".
        let records = texts.filter(SPFRecord.isSPFRecord)
        guard let text = records.first else { return .noRecord }
        guard records.count == 1 else { return .permerror("\(domain) publishes \(records.count) SPF records") }
        guard text.utf8.count <= limits.maxRecordLength else {
            return .permerror("the SPF record of \(domain) is longer than \(limits.maxRecordLength) octets")
        }
        let record: SPFRecord
        do {
            record = try SPFRecord.parse(text)
        } catch {
            return .permerror("the SPF record of \(domain) is invalid: \(error.message)")
        }
        let inner = chain + [key]
        // §4.6.2: the first matching mechanism decides.
        for directive in record.directives {
            switch await evaluate(directive.mechanism, domain: domain, context, chain: inner, &state) {
            case .noMatch:
                continue
            case .stop(let result):
                return result
            case .match:
                var result = HostResult(result: directive.qualifier.result)
                if result.result == .fail, let spec = record.explanation { result.explanation = (spec, domain) }
                return result
            }
        }
        // §6.1: redirect applies only when no mechanism matched; its "none" is "permerror", and
        // this record's exp= no longer applies (§6.2).
        guard let redirect = record.redirect else { return .neutral }
        if let exceeded = countDNSTerm(&state) { return exceeded }
        guard let target = await targetName(redirect, domain: domain, context, &state) else {
            return .permerror("the redirect= target of \(domain) is not a valid domain name")
        }
        let result = await checkHost(target, context, chain: inner, &state)
        if result.result == .none { return .permerror("redirect=\(target) has no SPF record") }
        return result
    }

    private func evaluate(_ mechanism: SPFMechanism, domain: String, _ context: Context,
                          chain: [String], _ state: inout State) async -> Match {
        if mechanism.queriesDNS, let exceeded = countDNSTerm(&state) { return .stop(exceeded) }
        switch mechanism {
        case .all:
            return .match
        case let .ip(network, prefix):
            return context.ip.isIn(network, prefix: prefix) ? .match : .noMatch
        case .include(let spec):
            // §5.2: a name we cannot query has no record, and an include without one is "permerror".
            guard let target = await targetName(spec, domain: domain, context, &state) else {
                return .stop(.permerror("the include: target in \(domain)'s record is not a valid domain name"))
            }
            let inner = await checkHost(target, context, chain: chain, &state)
            switch inner.result {
            case .pass: return .match
            case .fail, .softfail, .neutral: return .noMatch
            case .temperror, .permerror: return .stop(HostResult(result: inner.result, reason: inner.reason))
            case .none: return .stop(.permerror("include:\(target) has no SPF record"))
            }
        case let .a(spec, ip4Prefix, ip6Prefix):
            // §5.3; a target that cannot be a DNS name matches nothing (4.3's "non-existent").
            guard let target = await targetName(spec, domain: domain, context, &state) else { return .noMatch }
            let prefix = context.ip.isIPv6 ? ip6Prefix : ip4Prefix
            switch await addresses(target, ipv6: context.ip.isIPv6, countVoid: true, &state) {
            case .stop(let stop): return .stop(stop)
            case .found(let found): return found.contains { context.ip.isIn($0, prefix: prefix) } ? .match : .noMatch
            }
        case let .mx(spec, ip4Prefix, ip6Prefix):
            return await evaluateMX(spec, ip4Prefix: ip4Prefix, ip6Prefix: ip6Prefix, domain: domain, context, &state)
        case .ptr(let spec):
            return await evaluatePTR(spec, domain: domain, context, &state)
        case .exists(let spec):
            // §5.7: an A query whatever the client's address family; any record matches.
            guard let target = await targetName(spec, domain: domain, context, &state) else { return .noMatch }
            do {
                let found = try await resolver.addresses(target, ipv6: false)
                if found.isEmpty { return countVoid(&state).map(Match.stop) ?? .noMatch }
                return .match
            } catch {
                switch error {
                case .nxdomain, .noData: return countVoid(&state).map(Match.stop) ?? .noMatch
                case .temporary(let message): return .stop(.temperror("DNS error looking up A \(target): \(message)"))
                }
            }
        }
    }

    /// §5.4: every address of every exchange, at most `mxOrPtrNames` of them; no MX records
    /// match nothing (the target's own A records are not a stand-in).
    private func evaluateMX(_ spec: SPFMacroString?, ip4Prefix: Int, ip6Prefix: Int, domain: String,
                            _ context: Context, _ state: inout State) async -> Match {
        guard let target = await targetName(spec, domain: domain, context, &state) else { return .noMatch }
        let exchanges: [String]
        do {
            exchanges = try await resolver.mx(target)
        } catch {
            switch error {
            case .nxdomain, .noData: return countVoid(&state).map(Match.stop) ?? .noMatch
            case .temporary(let message): return .stop(.temperror("DNS error looking up MX \(target): \(message)"))
            }
        }
        if exchanges.isEmpty { return countVoid(&state).map(Match.stop) ?? .noMatch }
        // §4.6.4: more than 10 MX names is "permerror".
        guard exchanges.count <= limits.mxOrPtrNames else {
            return .stop(.permerror("MX of \(target) has \(exchanges.count) names, more than \(limits.mxOrPtrNames)"))
        }
        let prefix = context.ip.isIPv6 ? ip6Prefix : ip4Prefix
        for exchange in exchanges {
            // A null MX (RFC 7505, "." given as "") has no addresses.
            guard let name = Self.queryableName(exchange) else { continue }
            switch await addresses(name, ipv6: context.ip.isIPv6, countVoid: false, &state) {
            case .stop(let stop): return .stop(stop)
            case .found(let found): if found.contains(where: { context.ip.isIn($0, prefix: prefix) }) { return .match }
            }
        }
        return .noMatch
    }

    /// §5.5: the PTR names of `<ip>` (the first `mxOrPtrNames`) that are the target or below it
    /// and whose addresses include `<ip>`. DNS errors here mean no match, not "temperror".
    private func evaluatePTR(_ spec: SPFMacroString?, domain: String, _ context: Context, _ state: inout State) async -> Match {
        guard let target = await targetName(spec, domain: domain, context, &state)?.lowercased() else { return .noMatch }
        let names: [String]
        do {
            names = try await resolver.ptr(context.ip.readable)
        } catch {
            switch error {
            case .nxdomain, .noData: return countVoid(&state).map(Match.stop) ?? .noMatch
            case .temporary: return .noMatch
            }
        }
        if names.isEmpty { return countVoid(&state).map(Match.stop) ?? .noMatch }
        for name in names.prefix(limits.mxOrPtrNames) {
            guard let candidate = Self.queryableName(name)?.lowercased(),
                  candidate == target || candidate.hasSuffix("." + target) else { continue }
            if await validates(candidate, context) { return .match }
        }
        return .noMatch
    }

    /// Whether `name`'s A or AAAA records include `<ip>` (§5.5 "validated"); errors say no.
    private func validates(_ name: String, _ context: Context) async -> Bool {
        guard let found = try? await resolver.addresses(name, ipv6: context.ip.isIPv6) else { return false }
        return found.contains { Self.address($0, ipv6: context.ip.isIPv6) == context.ip }
    }

    /// The A or AAAA records of `name`; a void answer counts against §4.6.4's limit when the
    /// term itself asked for it, a temporary failure stops with "temperror" (§4.4, §5).
    private func addresses(_ name: String, ipv6: Bool, countVoid: Bool, _ state: inout State) async -> AddressLookup {
        let texts: [String]
        do {
            texts = try await resolver.addresses(name, ipv6: ipv6)
        } catch {
            switch error {
            case .nxdomain, .noData: texts = []
            case .temporary(let message):
                return .stop(.temperror("DNS error looking up \(ipv6 ? "AAAA" : "A") \(name): \(message)"))
            }
        }
        if texts.isEmpty, countVoid, let exceeded = self.countVoid(&state) { return .stop(exceeded) }
        return .found(texts.compactMap { Self.address($0, ipv6: ipv6) })
    }

    private static func address(_ text: String, ipv6: Bool) -> SPFAddress? {
        if ipv6 {
            return SPFAddress.parseIPv6(Substring(text)).map { SPFAddress.v6(high: $0.0, low: $0.1) }
        }
        return SPFAddress.parseIPv4(Substring(text)).map(SPFAddress.v4)
    }

    private enum AddressLookup {
        case found([SPFAddress])
        case stop(HostResult)
    }

    /// §4.6.4: the 11th DNS-querying term is "permerror".
    private func countDNSTerm(_ state: inout State) -> HostResult? {
        state.dnsTerms += 1
        guard state.dnsTerms > limits.dnsMechanisms else { return nil }
        return .permerror("more than \(limits.dnsMechanisms) DNS-querying terms")
    }

    /// §4.6.4: more than `voidLookups` terms answered by NXDOMAIN or no records is "permerror".
    private func countVoid(_ state: inout State) -> HostResult? {
        state.voidLookups += 1
        guard state.voidLookups > limits.voidLookups else { return nil }
        return .permerror("more than \(limits.voidLookups) void DNS lookups")
    }

    // MARK: - Names and macros (§4.3, §4.8, §7)

    /// §4.8: the expanded domain-spec, or `<domain>` when there is none; nil when the result
    /// cannot be queried.
    private func targetName(_ spec: SPFMacroString?, domain: String, _ context: Context, _ state: inout State) async -> String? {
        guard let spec else { return domain }
        guard var name = await expand(spec, domain: domain, context, &state) else { return nil }
        // §7.3 last paragraph: drop whole labels from the left until 253 octets remain.
        if name.hasSuffix(".") { name.removeLast() }
        while name.utf8.count > 253 {
            guard let dot = name.firstIndex(of: ".") else { return nil }
            name = String(name[name.index(after: dot)...])
        }
        return Self.queryableName(name)
    }

    /// A name we may hand to the resolver: without the final dot, at least two labels of 1-63
    /// octets, at most 253 octets, no control characters. Anything but a visible character is
    /// allowed otherwise: macros may expand to spaces (§7.3's %_), and DNS labels are octets.
    static func queryableName(_ text: String) -> String? {
        let name = text.hasSuffix(".") ? String(text.dropLast()) : text
        guard !name.isEmpty, name.utf8.count <= 253,
              !name.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return nil }
        let labels = name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ (1...63).contains($0.count) }) else { return nil }
        return name
    }

    /// §4.3: the initial `<domain>` is checked only if it is a multi-label domain name (no
    /// address literal, no empty or over-long label, not all-numeric at the top).
    static func isCheckableDomain(_ name: String) -> Bool {
        guard queryableName(name) != nil, name.utf8.allSatisfy({ (0x21...0x7E).contains($0) }),
              !name.hasPrefix("["),
              let top = name.split(separator: ".").last,
              !top.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return false }
        return true
    }

    func expand(_ spec: SPFMacroString, domain: String, _ context: Context, _ state: inout State) async -> String? {
        let validated = spec.usesValidatedName ? await validatedName(domain: domain, context, &state) : "unknown"
        let now = now
        return spec.expand { letter in
            switch letter {
            case .s: context.localPart + "@" + context.senderDomain
            case .l: context.localPart
            case .o: context.senderDomain
            case .d: domain
            case .i: context.ip.dotted
            case .p: validated
            case .v: context.ip.macroVersion
            case .h: context.helo
            case .c: context.ip.readable
            // §7.3: the checking host's name; "unknown" when there is none to give.
            case .r: "unknown"
            case .t: String(now())
            }
        }
    }

    /// The `p` macro (§7.3): a validated name of `<ip>`, preferring `<domain>` or a name below
    /// it; "unknown" when there is none. Looked up once per check.
    private func validatedName(domain: String, _ context: Context, _ state: inout State) async -> String {
        if state.validatedNames == nil {
            var validated: [String] = []
            if let names = try? await resolver.ptr(context.ip.readable) {
                for name in names.prefix(limits.mxOrPtrNames) {
                    guard let candidate = Self.queryableName(name)?.lowercased() else { continue }
                    if await validates(candidate, context) { validated.append(candidate) }
                }
            }
            state.validatedNames = validated
        }
        let names = state.validatedNames ?? []
        let key = domain.lowercased()
        return names.first { $0 == key || $0.hasSuffix("." + key) } ?? names.first ?? "unknown"
    }

    /// §6.2: the explanation of a "fail". Any DNS error, no record, more than one record, or a
    /// bad explanation string means the default text; `exp` lookups count against no limit.
    private func explanation(_ spec: SPFMacroString, domain: String, _ context: Context, _ state: inout State) async -> String? {
        guard let target = await targetName(spec, domain: domain, context, &state),
              let texts = try? await resolver.txt(target), texts.count == 1, let text = texts.first,
              text.utf8.count <= limits.maxRecordLength,
              let string = SPFMacroString(parsing: Array(text.utf8)[...], context: .explanation)
        else { return nil }
        return await expand(string, domain: domain, context, &state)
    }
}
