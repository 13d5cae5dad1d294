import Foundation
import MailCore

/// What Swallow found out about a message from elsewhere: SPF for the MAIL FROM (or HELO)
/// identity, every DKIM signature, and DMARC for the From: domain, as one
/// `Authentication-Results:` field (RFC 8601).
public struct InboundVerdict: Sendable {
    public let spf: SPFOutcome
    public let dkim: [DKIMVerification]
    public let dmarc: DMARCOutcome
    /// What this receiver does about a DMARC failure (RFC 7489 §7.2.1.1 "disposition"): the
    /// policy's disposition as far as `InboundAuthentication.enforcement` allows.
    public let applied: DMARCOutcome.Policy
    /// `Authentication-Results: ...` with its CRLF.
    public let header: [UInt8]
}

public struct InboundAuthentication: Sendable {
    /// Our host name: the authserv-id of the results we add (RFC 8601 §2.5).
    public let authservID: String
    let spf: SPFVerifier
    let dkim: DKIMVerifier
    let dmarc: DMARCVerifier
    /// Which DMARC dispositions this receiver carries out; a `p=reject` it does not refuse is
    /// quarantined when quarantining is on.
    public var enforcement = (reject: true, quarantine: true)

    public init(resolver: any AuthenticationResolver, suffixes: PublicSuffixList, authservID: String) {
        self.authservID = authservID.lowercased()
        spf = SPFVerifier(resolver: resolver)
        dkim = DKIMVerifier(resolver: resolver)
        dmarc = DMARCVerifier(resolver: resolver, suffixes: suffixes)
    }

    /// `mailFrom` is the reverse-path ("" for the null sender: then SPF checks the HELO name).
    public func check(_ message: [UInt8], clientIP: String, helo: String, mailFrom: String) async -> InboundVerdict {
        async let spfOutcome = spf.checkMailFrom(ip: clientIP, sender: mailFrom, helo: helo)
        async let signatures = dkim.verify(message)
        let spfResult = await spfOutcome
        let dkimResults = await signatures
        // RFC 7489 §3.1.2: with the null sender, SPF's identity is the HELO name.
        let spfDomain = mailFrom.isEmpty ? helo.lowercased() : (mailFrom.split(separator: "@").last.map { $0.lowercased() } ?? "")
        let fromDomain = Self.fromDomain(message)
        let dmarcOutcome: DMARCOutcome
        if let fromDomain {
            dmarcOutcome = await dmarc.evaluate(fromDomain: fromDomain, spf: spfResult.result, spfDomain: spfDomain, dkim: dkimResults)
        } else {
            // RFC 7489 §6.6.1: without exactly one From domain DMARC cannot apply.
            dmarcOutcome = DMARCOutcome(result: .permerror, fromDomain: "", policy: .none, disposition: .none)
        }
        let applied: DMARCOutcome.Policy = switch dmarcOutcome.disposition {
        case .reject where enforcement.reject: .reject
        case .reject, .quarantine: enforcement.quarantine ? .quarantine : .none
        case .none: .none
        }
        let header = Self.header(authservID: authservID, spf: spfResult, mailFrom: mailFrom, helo: helo, dkim: dkimResults,
                                 dmarc: dmarcOutcome, applied: applied)
        return InboundVerdict(spf: spfResult, dkim: dkimResults, dmarc: dmarcOutcome, applied: applied, header: header)
    }

    /// The domain of the one From: mailbox; nil with none, several fields, or several mailboxes.
    static func fromDomain(_ message: [UInt8]) -> String? {
        let fields = MessageHeader.parse(message).header.all("From")
        guard fields.count == 1 else { return nil }
        let mailboxes = AddressListEntry.parseAddressList(fields[0].value).flatMap(\.mailboxes)
        guard mailboxes.count == 1, let domain = mailboxes[0].domain, !domain.isEmpty else { return nil }
        return domain.lowercased()
    }

    /// RFC 8601 §2.2; each result a `method=result (reason) property=value` clause, one per line.
    static func header(authservID: String, spf: SPFOutcome, mailFrom: String, helo: String, dkim: [DKIMVerification],
                       dmarc: DMARCOutcome, applied: DMARCOutcome.Policy) -> [UInt8] {
        var clauses: [String] = []
        let spfProperty = mailFrom.isEmpty ? "smtp.helo=\(value(helo))" : "smtp.mailfrom=\(value(mailFrom))"
        clauses.append("spf=\(spf.result.rawValue)\(comment(spf.result == .pass ? nil : spf.explanation)) \(spfProperty)")
        if dkim.isEmpty {
            clauses.append("dkim=none")
        }
        for d in dkim {
            var clause = "dkim=\(d.result.rawValue)\(comment(d.reason))"
            if !d.domain.isEmpty { clause += " header.d=\(value(d.domain))" }
            if !d.selector.isEmpty { clause += " header.s=\(value(d.selector))" }
            if !d.algorithm.isEmpty { clause += " header.a=\(value(d.algorithm))" }
            if !d.signaturePrefix.isEmpty { clause += " header.b=\(value(d.signaturePrefix))" }
            clauses.append(clause)
        }
        var dmarcClause = "dmarc=\(dmarc.result.rawValue)"
        // dis= is what was done (RFC 7489 §7.2.1.1): a stored message was quarantined (into Junk)
        // or nothing was done; refused mail is not stored at all.
        let done = applied == .quarantine ? "quarantine" : "none"
        if dmarc.result == .pass || dmarc.result == .fail { dmarcClause += " (p=\(dmarc.policy.rawValue) dis=\(done))" }
        if !dmarc.fromDomain.isEmpty { dmarcClause += " header.from=\(value(dmarc.fromDomain))" }
        clauses.append(dmarcClause)
        return Array(("Authentication-Results: \(authservID);\r\n\t" + clauses.joined(separator: ";\r\n\t") + "\r\n").utf8)
    }

    /// RFC 8601 §2.2 pvalue: an RFC 2045 token, or `[local-part "@"] domain-name`, as it is;
    /// anything else (a base64 `header.b` with '/', '+' or '=') as a quoted string. Control
    /// characters, which could end the field, are dropped.
    static func value(_ s: String) -> String {
        let clean = String(String.UnicodeScalarView(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
        let tspecials = Set("()<>@,;:\\\"/[]?= ")
        let isToken = !clean.isEmpty && clean.allSatisfy { $0.isASCII && !tspecials.contains($0) }
        if isToken { return clean }
        let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.")
        if let at = clean.lastIndex(of: "@") {
            let local = clean[..<at], domain = clean[clean.index(after: at)...]
            let domainOK = !domain.isEmpty && domain.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
            if domainOK, local.allSatisfy({ atext.contains($0) }), !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") {
                return clean
            }
        }
        return "\"" + clean.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func comment(_ s: String?) -> String {
        guard let s, !s.isEmpty else { return "" }
        let clean = s.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F && $0 != "(" && $0 != ")" && $0 != "\\" }
        return " (" + String(String.UnicodeScalarView(clean.prefix(200))) + ")"
    }

    /// RFC 8601 §5: `Authentication-Results:` fields that claim our authserv-id came from
    /// outside and are removed before ours is added. Returns `message` unchanged when there are none.
    public func removingForgedResults(_ message: [UInt8]) -> [UInt8] {
        let (header, bodyOffset) = MessageHeader.parse(message)
        let forged = header.fields.filter { field in
            guard field.hasName("Authentication-Results") else { return false }
            // RFC 8601 §2.2: [CFWS] authserv-id, comments included.
            let first = Self.withoutComments(String(field.value.split(separator: ";", maxSplits: 1).first ?? ""))
            return first.split(whereSeparator: \.isWhitespace).first.map { $0.lowercased() } == authservID
        }
        guard !forged.isEmpty else { return message }
        var out: [UInt8] = []
        for field in header.fields where !forged.contains(field) { out += field.raw }
        out += [0x0D, 0x0A]
        out += message[bodyOffset...]
        return out
    }

    /// The text with RFC 5322 §3.2.2 comments (nested, with quoted pairs) removed.
    static func withoutComments(_ text: String) -> String {
        var out = ""
        var depth = 0
        var escaped = false
        for c in text {
            if escaped { escaped = false; continue }
            if depth > 0 && c == "\\" { escaped = true; continue }
            if c == "(" { depth += 1; continue }
            if c == ")" && depth > 0 { depth -= 1; out.append(" "); continue }
            if depth == 0 { out.append(c) }
        }
        return out
    }
}
