import Delivery
import Foundation
import MailAuth
import MailAuthentication
import MailCore
import MailQueue
import MailStore

/// What an administrator can do, once: the CLI (`swallow user add`, `swallow queue bounce`, …)
/// and the admin API call these same functions, on the same data, so the two cannot drift and
/// the CLI keeps working with the server down.
public struct Administration: Sendable {
    public let directory: any DirectoryAdministration
    public let store: any MailStore
    public let queue: OutboundQueue
    public let trace: MessageTrace?
    /// The DKIM signing keys (`dkim/` in the data directory).
    public let dkim: DKIMKeyring?
    /// Our host name (Reporting-MTA of the reports `bounce` sends).
    public let hostname: String
    /// `auth.scram_iterations`, for the SCRAM secrets stored with a new password.
    public let scramIterations: Int

    public init(directory: any DirectoryAdministration, store: any MailStore, queue: OutboundQueue, trace: MessageTrace?,
                dkim: DKIMKeyring? = nil, hostname: String, scramIterations: Int) {
        self.directory = directory; self.store = store; self.queue = queue; self.trace = trace; self.dkim = dkim
        self.hostname = hostname; self.scramIterations = scramIterations
    }

    // MARK: Domains, users, aliases

    public struct UserInfo: Sendable, Codable, Equatable {
        public let address: String
        public let quota_bytes: Int64
        public let used_bytes: Int64
        public let messages: Int64
        /// 0: unlimited.
        public let max_messages: Int64
    }

    public func addUser(_ address: String, password: String, quotaBytes: Int64 = 0, maxMessages: Int64 = 0) async throws -> UserInfo {
        let canonical = try DirectoryAddress.canonical(address)
        guard let (_, domain) = DirectoryAddress.split(canonical), try await directory.isLocalDomain(domain) else {
            throw DirectoryError.unknownDomain(DirectoryAddress.split(canonical)?.domain ?? address)
        }
        guard try await directory.account(login: canonical) == nil else { throw DirectoryError.userExists(canonical) }
        guard quotaBytes >= 0 else { throw AdminError.badRequest("quota must not be negative") }
        guard maxMessages >= 0 else { throw AdminError.badRequest("max_messages must not be negative") }
        let (hash, scram) = try secrets(password)
        let account = try await directory.addUser(canonical, passwordHash: hash, scram: scram, quotaBytes: quotaBytes, maxMessages: maxMessages)
        try await store.prepareAccount(account.id)
        return try await user(account.address)
    }

    public func user(_ address: String) async throws -> UserInfo {
        guard let account = try await directory.account(login: address) else { throw DirectoryError.unknownUser(address) }
        return try await info(account)
    }

    public func users() async throws -> [UserInfo] {
        var result: [UserInfo] = []
        for account in try await directory.listUsers() { result.append(try await info(account)) }
        return result
    }

    private func info(_ account: Account) async throws -> UserInfo {
        let usage = try await store.quotaUsage(account.id)
        return UserInfo(address: account.address, quota_bytes: usage.limitBytes, used_bytes: usage.bytes, messages: usage.messages,
                        max_messages: usage.limitMessages)
    }

    public func setPassword(_ address: String, password: String) async throws {
        guard let account = try await directory.account(login: address) else { throw DirectoryError.unknownUser(address) }
        let (hash, scram) = try secrets(password)
        try await directory.setPassword(account.address, passwordHash: hash, scram: scram)
    }

    /// Sets the limits given (nil: unchanged); 0 is unlimited.
    public func setQuota(_ address: String, bytes: Int64?, maxMessages: Int64? = nil) async throws {
        guard (bytes ?? 0) >= 0 else { throw AdminError.badRequest("quota must not be negative") }
        guard (maxMessages ?? 0) >= 0 else { throw AdminError.badRequest("max_messages must not be negative") }
        guard let account = try await directory.account(login: address) else { throw DirectoryError.unknownUser(address) }
        try await directory.setQuota(account.address, quotaBytes: bytes, maxMessages: maxMessages)
    }

    /// The stored forms of a password: the crypt(3) hash (yescrypt) and the SCRAM secrets.
    /// Never the password itself (DESIGN.md §4).
    func secrets(_ password: String) throws -> (hash: String, scram: String) {
        guard !password.isEmpty else { throw AdminError.badRequest("the password is empty") }
        return (try PasswordHash.make(password), SCRAMCredentials.derive(password: password, iterations: scramIterations).storageString)
    }

    // MARK: DKIM keys

    public struct DKIMKeyInfo: Sendable, Codable, Equatable {
        public let domain: String
        public let selector: String
        public let algorithm: String
        public let created: String
        /// The TXT record to publish, as a zone-file line.
        public let record: String
    }

    public func dkimKeys() -> [DKIMKeyInfo] {
        (dkim?.allKeys() ?? []).map(Self.info)
    }

    /// A new key for a local domain; the default selector is the algorithm and this month
    /// (`rsa202612`, `ed202612`). `owner`: as `DKIMKeyring.generate`.
    public func generateDKIMKey(domain: String, selector: String?, algorithm: String?,
                                owner: (uid: uid_t, gid: gid_t)? = nil) async throws -> DKIMKeyInfo {
        guard let dkim else { throw AdminError.notFound("DKIM keys are not available") }
        guard let algorithm = DKIMKey.Algorithm(rawValue: (algorithm ?? "rsa").lowercased()) else {
            throw AdminError.badRequest("the algorithm is rsa or ed25519")
        }
        let domain = domain.lowercased()
        guard try await directory.isLocalDomain(domain) else { throw DirectoryError.unknownDomain(domain) }
        let month = Date().formatted(.iso8601.year().month().dateSeparator(.omitted))
        do {
            return Self.info(try dkim.generate(domain: domain, selector: selector ?? (algorithm == .rsa ? "rsa" : "ed") + month,
                                               algorithm: algorithm, owner: owner))
        } catch let error as DKIMError {
            throw AdminError.conflict(error.description)
        }
    }

    static func info(_ key: DKIMKey) -> DKIMKeyInfo {
        DKIMKeyInfo(domain: key.domain, selector: key.selector, algorithm: key.algorithm.rawValue,
                    created: key.created.formatted(.iso8601), record: key.zoneLine)
    }

    // MARK: The queue

    public func queuedMessage(_ id: String) async throws -> QueuedMessage {
        try await queue.message(Self.queueID(id))
    }

    /// Returns the message to its sender now: its pending recipients fail with a delivery
    /// report (RFC 3464) naming the administrator as the reason. Returns the report's queue ID
    /// (nil for the null sender, which gets none).
    public func bounce(_ id: String, by admin: String) async throws -> QueueID? {
        let queueID = try Self.queueID(id)
        let m = try await queue.message(queueID)
        var failed = m.recipients.filter { $0.state == .pending }
        guard !failed.isEmpty else { throw AdminError.conflict("\(queueID) has no pending recipient") }
        for i in failed.indices {
            failed[i].state = .failed
            // RFC 3463 X.0.0 with the reason; the last remote answer is kept beside it.
            failed[i].lastError = "5.0.0 returned to sender by the administrator"
                + (failed[i].lastError.map { " (last attempt: \($0))" } ?? "")
        }
        let report = Bounces.failure(m, failed: failed, hostname: hostname)
        try await queue.record(queueID, failed, enqueue: report.map { [$0] } ?? [])
        traceAdmin(queueID, "bounce", by: admin)
        if let report {
            trace?.record(TraceEvent(queueID: queueID, kind: .bounced, recipient: m.sender,
                                     text: "delivery report \(report.id) sent to \(m.sender)", data: ["report": report.id.rawValue]))
            trace?.received(TracedEnvelope(queueID: report.id, messageID: nil, sender: "", recipients: [m.sender]),
                            TraceEvent(queueID: report.id, kind: .received, text: "created by \(hostname) for \(queueID)",
                                       data: ["protocol": "local", "origin": queueID.rawValue]))
        }
        return report?.id
    }

    public func hold(_ id: String, by admin: String) async throws {
        let queueID = try Self.queueID(id)
        try await queue.hold(queueID)
        traceAdmin(queueID, "hold", by: admin)
    }

    public func release(_ id: String, by admin: String) async throws {
        let queueID = try Self.queueID(id)
        try await queue.release(queueID)
        traceAdmin(queueID, "release", by: admin)
    }

    public func delete(_ id: String, by admin: String) async throws {
        let queueID = try Self.queueID(id)
        try await queue.delete(queueID)
        traceAdmin(queueID, "delete", by: admin)
    }

    public func flush(_ id: String?, destination: String?) async throws -> Int {
        try await queue.flush(id.map(Self.queueID), destination: destination)
    }

    private func traceAdmin(_ id: QueueID, _ action: String, by admin: String, extra: [String: String] = [:]) {
        trace?.record(TraceEvent(queueID: id, kind: .admin, text: "\(action) by \(admin)",
                                 data: extra.merging(["action": action, "admin": admin]) { a, _ in a }))
    }

    public static func queueID(_ text: String) throws -> QueueID {
        guard let id = QueueID(text.uppercased()) else { throw AdminError.badRequest("'\(text)' is not a queue ID") }
        return id
    }
}

/// A refusal with the HTTP status it maps to; the CLI prints the text.
public enum AdminError: Error, Sendable, CustomStringConvertible {
    case badRequest(String)
    case notFound(String)
    case conflict(String)

    public var description: String {
        switch self {
        case .badRequest(let s), .notFound(let s), .conflict(let s): s
        }
    }
}
