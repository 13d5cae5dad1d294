import Foundation

/// DMARC (RFC 7489): does an authenticated identifier (SPF's MAIL FROM domain, a DKIM `d=`)
/// align with the From: domain, and what does the From: domain ask receivers to do otherwise.
public struct DMARCOutcome: Sendable, Equatable {
    public enum Result: String, Sendable { case none, pass, fail, temperror, permerror }
    public enum Policy: String, Sendable { case none, quarantine, reject }

    public let result: Result
    /// The RFC5322.From domain.
    public let fromDomain: String
    /// The policy that applies (`sp=` for a subdomain without its own record); `.none` without one.
    public let policy: Policy
    /// What to do with this message: the policy when DMARC failed (after `pct=` sampling), else none.
    public let disposition: Policy
}

public struct DMARCVerifier: Sendable {
    let resolver: any AuthenticationResolver
    let suffixes: PublicSuffixList

    public init(resolver: any AuthenticationResolver, suffixes: PublicSuffixList) {
        self.resolver = resolver
        self.suffixes = suffixes
    }

    struct Record {
        var policy: DMARCOutcome.Policy
        var subdomainPolicy: DMARCOutcome.Policy?
        var strictDKIM = false
        var strictSPF = false
        var percent = 100
    }

    /// `spf` is the SPF result for the MAIL FROM identity and `spfDomain` its domain; `dkim` the
    /// verifications of the message's signatures. `sample` decides `pct=` (0..<100).
    public func evaluate(fromDomain: String, spf: SPFResult, spfDomain: String, dkim: [DKIMVerification],
                         sample: Int = Int.random(in: 0..<100)) async -> DMARCOutcome {
        let from = fromDomain.lowercased()
        let organizational = suffixes.organizationalDomain(from) ?? from
        // RFC 7489 §6.6.3: the From domain's record, else the organizational domain's.
        var record: Record?
        var usedOrganizational = false
        do {
            record = try await lookup(from)
            if record == nil, organizational != from {
                record = try await lookup(organizational)
                usedOrganizational = record != nil
            }
        } catch RecordError.temporary {
            return DMARCOutcome(result: .temperror, fromDomain: from, policy: .none, disposition: .none)
        } catch {
            return DMARCOutcome(result: .permerror, fromDomain: from, policy: .none, disposition: .none)
        }
        guard let record else { return DMARCOutcome(result: .none, fromDomain: from, policy: .none, disposition: .none) }
        let policy = usedOrganizational ? record.subdomainPolicy ?? record.policy : record.policy

        // RFC 7489 §3.1: relaxed alignment is the same organizational domain; strict is equality.
        func aligned(_ domain: String, strict: Bool) -> Bool {
            let d = domain.lowercased()
            return strict ? d == from : (suffixes.organizationalDomain(d) ?? d) == organizational
        }
        let dkimAligned = dkim.contains { $0.result == .pass && aligned($0.domain, strict: record.strictDKIM) }
        let spfAligned = spf == .pass && aligned(spfDomain, strict: record.strictSPF)
        if dkimAligned || spfAligned {
            return DMARCOutcome(result: .pass, fromDomain: from, policy: policy, disposition: .none)
        }
        // RFC 7489 §6.6.4: a message outside the pct= sample gets the next policy down.
        var disposition = policy
        if sample >= record.percent {
            disposition = policy == .reject ? .quarantine : .none
        }
        return DMARCOutcome(result: .fail, fromDomain: from, policy: policy, disposition: disposition)
    }

    enum RecordError: Error { case temporary, invalid }

    /// The one `v=DMARC1` record at `_dmarc.DOMAIN`, nil when there is none (or more than one,
    /// §6.6.3: then none applies).
    func lookup(_ domain: String) async throws(RecordError) -> Record? {
        let texts: [String]
        do {
            texts = try await resolver.txt("_dmarc.\(domain)")
        } catch .temporary {
            throw .temporary
        } catch {
            return nil
        }
        let records = texts.filter { $0.replacingOccurrences(of: " ", with: "").hasPrefix("v=DMARC1") }
        guard records.count == 1 else { return nil }
        return Self.parse(records[0])
    }

    /// RFC 7489 §6.3. An unknown or missing p= with a valid rua= is p=none (§6.6.3); without
    /// either the record is not used.
    static func parse(_ text: String) -> Record? {
        var tags: [String: String] = [:]
        for part in text.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2 { tags[pair[0].lowercased()] = pair[1] }
        }
        func policy(_ s: String?) -> DMARCOutcome.Policy? { s.flatMap { DMARCOutcome.Policy(rawValue: $0.lowercased()) } }
        let p: DMARCOutcome.Policy
        if let parsed = policy(tags["p"]) {
            p = parsed
        } else if tags["rua"] != nil {
            p = .none
        } else {
            return nil
        }
        var record = Record(policy: p, subdomainPolicy: policy(tags["sp"]))
        record.strictDKIM = tags["adkim"]?.lowercased() == "s"
        record.strictSPF = tags["aspf"]?.lowercased() == "s"
        if let pct = tags["pct"].flatMap(Int.init), (0...100).contains(pct) { record.percent = pct }
        return record
    }
}
