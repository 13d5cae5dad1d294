import Foundation
import LineFraming
import MailAuth
import MailStore
import POP3Protocol

/// One POP3 session's state and protocol decisions (DESIGN.md §5.4): commands and results in,
/// actions out. It does no I/O; `POP3Driver` performs the actions (replies, password
/// checks, store reads and the UPDATE) and feeds the results back.
///
/// States (RFC 1939 §3): AUTHORIZATION until a login succeeds and the maildrop is opened,
/// TRANSACTION while the client works on it, UPDATE after QUIT while the changes are applied.
///
/// The maildrop is the INBOX as it was when the session entered TRANSACTION: message numbers
/// 1...n over the INBOX's UIDs at that moment, in UID order, and their stored sizes. Mail that
/// arrives later is seen by the next session (RFC 1939 §8 lets a server fix the maildrop for
/// the session; Dovecot does the same). Several sessions may open one maildrop at once.
///
/// Policy, as Dovecot's:
/// - DELE only marks; at QUIT (UPDATE) the marked messages get `\Deleted` and exactly those
///   UIDs are expunged, so `\Deleted` flags other clients set elsewhere stay as they are. A
///   connection that ends without QUIT deletes nothing (RFC 1939 §6).
/// - RETR (not TOP) marks the message `\Seen`, applied in one store transaction when the session
///   ends, by QUIT or by a dropped connection (Dovecot's `client_update_mails`).
/// - UIDL is `<UIDVALIDITY>.<UID>` in decimal (e.g. `1717171717.42`): stable across sessions
///   for as long as the INBOX keeps its UIDVALIDITY, and the same pair IMAP clients see.
struct POP3Session {
    enum State: String, Sendable, Equatable {
        case authorization = "AUTHORIZATION"
        case transaction = "TRANSACTION"
        case update = "UPDATE"
    }

    /// One message of the maildrop snapshot.
    struct Message: Sendable, Hashable {
        var uid: UInt32
        /// Octets as stored, which is what RETR sends before dot-stuffing (the store keeps
        /// CRLF line ends, so this is the RFC 1939 §5 "exact size").
        var size: Int
        var seen: Bool
    }

    /// The INBOX as the session sees it.
    struct Maildrop: Sendable, Hashable {
        var mailbox: MailboxID
        var uidValidity: UInt32
        var messages: [Message]
    }

    /// The outcome of a USER/PASS check.
    enum PasswordCheck: Sendable {
        case accepted(Account)
        case rejected
        /// The directory could not answer (a database error): not the client's fault.
        case unavailable
    }

    /// What the handler must do next.
    enum Action {
        case reply(POP3Response)
        /// A multi-line response of listing lines (CAPA, LIST, UIDL, bare AUTH).
        case multiline(POP3Response, [String])
        /// Reply, then close the connection.
        case close(POP3Response)
        /// Reply `+OK`, then start TLS; fails the connection if bytes are already buffered.
        case startTLS
        /// Look the login up and check the password off the event loop, then call
        /// `passwordChecked(_:)`.
        case checkPassword(login: String, password: String)
        /// Run a SASL exchange (RFC 5034) with this mechanism and decoded initial response,
        /// then call `authenticated(as:)` or `authenticationFailed()`.
        case authenticate(SASLMechanismName, initialResponse: [UInt8]?)
        /// Read the INBOX's state for `account`, then call `maildropOpened(_:)`.
        case openMaildrop(Account)
        /// Read the message's bytes, then call `messageLoaded(number:topLines:_:)`.
        case loadMessage(mailbox: MailboxID, number: Int, uid: UInt32, topLines: Int?)
        /// Send `first` and the message (the first `topLines` body lines of it for TOP),
        /// dot-stuffed and terminated.
        case sendMessage(first: POP3Response, bytes: [UInt8], topLines: Int?)
        /// UPDATE (RFC 1939 §6): add `\Seen` to `seen`, add `\Deleted` to `deleted` and expunge
        /// exactly `deleted`, then call `updateFinished(_:)`.
        case update(mailbox: MailboxID, seen: UIDSet, deleted: UIDSet)
    }

    let configuration: POP3ServerConfiguration
    let clientIP: String
    let tlsAvailable: Bool
    private(set) var tlsActive: Bool
    private(set) var state = State.authorization
    /// The name from USER, waiting for PASS.
    private(set) var user: String?
    private(set) var account: Account?
    private(set) var maildrop: Maildrop?
    private(set) var deleted: [Bool] = []
    /// Message indexes (0-based) sent by RETR in this session.
    private(set) var retrieved = Set<Int>()
    private(set) var errors = 0
    private(set) var authenticationFailures = 0

    init(configuration: POP3ServerConfiguration, clientIP: String, tlsAvailable: Bool, tlsActive: Bool) {
        self.configuration = configuration
        self.clientIP = clientIP
        self.tlsAvailable = tlsAvailable
        self.tlsActive = tlsActive
    }

    /// RFC 1939 §4: the greeting is a positive response.
    var greeting: POP3Response { .ok("\(configuration.hostname) Swallow POP3 ready.") }

    /// DESIGN.md §4: passwords cross the wire only under TLS unless the admin opted in.
    var plaintextAllowed: Bool { configuration.authPolicy.allowsPlaintextPasswords(tlsActive: tlsActive) }

    /// Postfix's `smtpd_tls_auth_only` for POP3: no login of any kind before TLS, unless the
    /// administrator allowed plaintext logins.
    var authenticationAllowed: Bool { configuration.authPolicy.allowsAuthentication(tlsActive: tlsActive) }

    /// Counts a protocol error; too many close the session.
    mutating func error(_ response: POP3Response) -> Action {
        errors += 1
        if errors >= configuration.maxErrors { return .close(.error("Too many errors, closing connection")) }
        return .reply(response)
    }

    // MARK: Commands

    mutating func handle(_ command: POP3Command) -> Action {
        switch command {
        case .capa:
            return .multiline(.ok("Capability list follows"), capabilities)
        case .quit:
            switch state {
            case .authorization:
                // RFC 1939 §4: QUIT in AUTHORIZATION ends the session without UPDATE.
                return .close(.ok("\(configuration.hostname) Swallow POP3 signing off"))
            case .transaction:
                return enterUpdate()
            case .update:
                return .reply(.error("Update in progress"))
            }
        case .stls:
            guard state == .authorization else { return error(wrongState(command)) }
            // RFC 2595 §4: "-ERR Command not permitted when TLS active".
            guard !tlsActive else { return error(.error("Command not permitted when TLS active")) }
            guard tlsAvailable else { return error(.error("TLS not available")) }
            return .startTLS
        case .user(let name):
            guard state == .authorization else { return error(wrongState(command)) }
            guard plaintextAllowed else { return error(plaintextRefused) }
            user = name
            return .reply(.ok("Send PASS"))
        case .pass(let password):
            guard state == .authorization else { return error(wrongState(command)) }
            guard plaintextAllowed else { return error(plaintextRefused) }
            guard let login = user else { return error(.error("Send USER first")) }
            // RFC 1939 §7: after a failed PASS the client starts again with USER (or AUTH).
            user = nil
            return .checkPassword(login: login, password: password)
        case .apop:
            guard state == .authorization else { return error(wrongState(command)) }
            return error(.error("APOP is not supported: use USER/PASS or AUTH"))
        case .auth(let mechanism, let initialResponse):
            guard state == .authorization else { return error(wrongState(command)) }
            return auth(mechanism, initialResponse)
        case .stat, .list, .retr, .dele, .noop, .rset, .top, .uidl:
            guard state == .transaction, let maildrop else { return error(wrongState(command)) }
            return transaction(command, maildrop)
        }
    }

    /// RFC 2449 §5 capabilities for the current state: the login methods only while they can
    /// be used (RFC 2595 §4: not USER or plaintext SASL before TLS unless allowed).
    var capabilities: [String] {
        var caps = ["CAPA", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if state == .authorization {
            if plaintextAllowed { caps.append("USER") }
            if !offeredMechanisms.isEmpty { caps.append("SASL " + offeredMechanisms.joined(separator: " ")) }
            if tlsAvailable && !tlsActive { caps.append("STLS") }
        }
        caps.append("IMPLEMENTATION Swallow")
        return caps
    }

    /// PLAIN and LOGIN send the password itself; SCRAM never reveals it.
    var offeredMechanisms: [String] {
        configuration.authPolicy.offeredMechanisms(tlsActive: tlsActive).map(\.rawValue)
    }

    /// RFC 3206 §4: a policy refusal is an [AUTH] failure.
    private var plaintextRefused: POP3Response {
        .error(.auth, "Plaintext authentication disallowed on non-secure connections"
               + (tlsAvailable && !tlsActive ? "; use STLS first" : ""))
    }

    private func wrongState(_ command: POP3Command) -> POP3Response {
        switch state {
        case .authorization: .error("\(command.keyword) is not valid in the AUTHORIZATION state: log in first")
        case .transaction: .error("\(command.keyword) is not valid in the TRANSACTION state: already logged in")
        case .update: .error("\(command.keyword) is not valid in the UPDATE state")
        }
    }

    // MARK: AUTHORIZATION (RFC 1939 §4, RFC 5034)

    private mutating func auth(_ mechanismName: String?, _ initialResponse: String?) -> Action {
        guard let mechanismName else {
            // Pre-RFC 5034 clients (RFC 1734 era) ask for the list with a bare AUTH.
            return .multiline(.ok("Supported SASL mechanisms follow"), offeredMechanisms)
        }
        guard let mechanism = SASLMechanismName(caseInsensitive: mechanismName) else {
            return error(.error("Unsupported authentication mechanism"))
        }
        guard configuration.authPolicy.allows(mechanism, tlsActive: tlsActive) else { return error(plaintextRefused) }
        var initial: [UInt8]? = nil
        if let initialResponse {
            guard let decoded = SASLResponseLine.decodeInitialResponse(initialResponse) else {
                return error(POP3CommandParser.Errors.invalidBase64)
            }
            initial = decoded
        }
        user = nil
        return .authenticate(mechanism, initialResponse: initial)
    }

    /// After `checkPassword`.
    mutating func passwordChecked(_ check: PasswordCheck) -> Action {
        switch check {
        case .accepted(let account): return authenticated(as: account)
        case .rejected: return authenticationFailed()
        case .unavailable: return .reply(Self.authenticationUnavailable)
        }
    }

    /// RFC 3206 §4 [SYS/TEMP]: the directory or database could not decide; not a wrong password.
    static let authenticationUnavailable = POP3Response.error(.sysTemp, "Authentication service temporarily unavailable, try again later")

    /// A login (USER/PASS or SASL) succeeded: open the maildrop next.
    mutating func authenticated(as account: Account) -> Action {
        user = nil
        self.account = account
        return .openMaildrop(account)
    }

    /// A rejected login: RFC 3206 §4 [AUTH], counted as an error; after
    /// `maxAuthenticationFailures` the connection is closed.
    mutating func authenticationFailed() -> Action {
        authenticationFailures += 1
        if authenticationFailures >= configuration.maxAuthenticationFailures {
            return .close(.error(.auth, "Authentication failed; too many failures, closing connection"))
        }
        return error(.error(.auth, "Authentication failed"))
    }

    /// After `openMaildrop`.
    mutating func maildropOpened(_ result: Result<Maildrop, StoreError>) -> Action {
        switch result {
        case .success(let drop):
            maildrop = drop
            deleted = Array(repeating: false, count: drop.messages.count)
            retrieved = []
            state = .transaction
            let (count, size) = totals
            return .reply(.ok("Logged in: \(count) message\(count == 1 ? "" : "s") (\(size) octets)"))
        case .failure(let error):
            account = nil
            return .reply(Self.storeFailure(error, doing: "open the maildrop"))
        }
    }

    /// After a TLS handshake: RFC 2595 §4, forget anything learned before it.
    mutating func tlsStarted() {
        tlsActive = true
        user = nil
        account = nil
    }

    // MARK: TRANSACTION (RFC 1939 §5, §7)

    /// Messages not marked deleted, and their total size (STAT, LIST, RSET).
    var totals: (count: Int, size: Int) {
        guard let maildrop else { return (0, 0) }
        var count = 0, size = 0
        for (i, message) in maildrop.messages.enumerated() where !deleted[i] {
            count += 1
            size += message.size
        }
        return (count, size)
    }

    /// The UIDL of a message: `<UIDVALIDITY>.<UID>`.
    static func uniqueID(uidValidity: UInt32, uid: UInt32) -> String { "\(uidValidity).\(uid)" }

    /// The index of message `number`, or the `-ERR` for it (RFC 1939 §5: deleted messages may
    /// not be referred to).
    private func index(_ number: Int, _ maildrop: Maildrop) -> Lookup {
        guard number >= 1, number <= maildrop.messages.count else {
            return .failure(.error("No such message (the maildrop has \(maildrop.messages.count))"))
        }
        guard !deleted[number - 1] else { return .failure(.error("Message \(number) is marked deleted")) }
        return .success(number - 1)
    }

    private enum Lookup {
        case success(Int)
        case failure(POP3Response)
    }

    private mutating func transaction(_ command: POP3Command, _ maildrop: Maildrop) -> Action {
        switch command {
        case .stat:
            let (count, size) = totals
            return .reply(.ok("\(count) \(size)"))
        case .list(nil):
            let (count, size) = totals
            var lines: [String] = []
            lines.reserveCapacity(count)
            for (i, message) in maildrop.messages.enumerated() where !deleted[i] { lines.append("\(i + 1) \(message.size)") }
            return .multiline(.ok("\(count) message\(count == 1 ? "" : "s") (\(size) octets)"), lines)
        case .list(let number?):
            switch index(number, maildrop) {
            case .failure(let response): return .reply(response)
            case .success(let i): return .reply(.ok("\(number) \(maildrop.messages[i].size)"))
            }
        case .uidl(nil):
            var lines: [String] = []
            for (i, message) in maildrop.messages.enumerated() where !deleted[i] {
                lines.append("\(i + 1) \(Self.uniqueID(uidValidity: maildrop.uidValidity, uid: message.uid))")
            }
            return .multiline(.ok("Unique-ID listing follows"), lines)
        case .uidl(let number?):
            switch index(number, maildrop) {
            case .failure(let response): return .reply(response)
            case .success(let i):
                return .reply(.ok("\(number) \(Self.uniqueID(uidValidity: maildrop.uidValidity, uid: maildrop.messages[i].uid))"))
            }
        case .retr(let number):
            switch index(number, maildrop) {
            case .failure(let response): return .reply(response)
            case .success(let i): return .loadMessage(mailbox: maildrop.mailbox, number: number, uid: maildrop.messages[i].uid, topLines: nil)
            }
        case .top(let number, let lines):
            switch index(number, maildrop) {
            case .failure(let response): return .reply(response)
            case .success(let i): return .loadMessage(mailbox: maildrop.mailbox, number: number, uid: maildrop.messages[i].uid, topLines: lines)
            }
        case .dele(let number):
            switch index(number, maildrop) {
            case .failure(let response): return .reply(response)
            case .success(let i):
                deleted[i] = true
                return .reply(.ok("Message \(number) deleted"))
            }
        case .rset:
            // RFC 1939 §5: unmark every message marked deleted.
            deleted = Array(repeating: false, count: maildrop.messages.count)
            let (count, size) = totals
            return .reply(.ok("Maildrop has \(count) message\(count == 1 ? "" : "s") (\(size) octets)"))
        case .noop:
            return .reply(.ok())
        default:
            return error(wrongState(command))
        }
    }

    /// After `loadMessage`.
    mutating func messageLoaded(number: Int, topLines: Int?, _ result: Result<[UInt8], StoreError>) -> Action {
        switch result {
        case .success(let bytes):
            guard let topLines else {
                retrieved.insert(number - 1)
                // RFC 1939 §5 example: "+OK 120 octets".
                return .sendMessage(first: .ok("\(bytes.count) octets"), bytes: bytes, topLines: nil)
            }
            return .sendMessage(first: .ok("Top of message follows"), bytes: bytes, topLines: topLines)
        case .failure(.expunged):
            return .reply(.error("Message \(number) was removed by another session"))
        case .failure(let error):
            return .reply(Self.storeFailure(error, doing: "read the message"))
        }
    }

    // MARK: UPDATE (RFC 1939 §6)

    /// UIDs RETR sent that are not `\Seen` yet and are not being deleted.
    private var newlySeen: UIDSet {
        guard let maildrop else { return UIDSet() }
        return UIDSet(retrieved.filter { !deleted[$0] && !maildrop.messages[$0].seen }.map { maildrop.messages[$0].uid })
    }

    private mutating func enterUpdate() -> Action {
        guard let maildrop else { return .close(.ok("Bye")) }
        state = .update
        let doomed = UIDSet(maildrop.messages.indices.filter { deleted[$0] }.map { maildrop.messages[$0].uid })
        let seen = newlySeen
        if doomed.isEmpty && seen.isEmpty { return .close(.ok("\(configuration.hostname) Swallow POP3 signing off")) }
        return .update(mailbox: maildrop.mailbox, seen: seen, deleted: doomed)
    }

    /// After `update`: the number of messages expunged, or why the changes failed.
    mutating func updateFinished(_ result: Result<Int, StoreError>) -> Action {
        switch result {
        case .success(let expunged):
            return .close(.ok("\(configuration.hostname) Swallow POP3 signing off (\(expunged) message\(expunged == 1 ? "" : "s") deleted)"))
        case .failure(let error):
            // RFC 1939 §6: "-ERR some deleted messages not removed", then close anyway.
            let code: POP3ResponseCode = if case .temporary = error { .sysTemp } else { .sysPerm }
            return .close(.error(code, "Some deleted messages were not removed"))
        }
    }

    /// The `\Seen` flags still owed when the connection ends without QUIT (Dovecot applies
    /// them then too; the deletions are dropped, RFC 1939 §6).
    var seenOnDisconnect: (mailbox: MailboxID, uids: UIDSet)? {
        guard state == .transaction, let maildrop else { return nil }
        let seen = newlySeen
        return seen.isEmpty ? nil : (maildrop.mailbox, seen)
    }

    /// RFC 3206 §5: temporary store failures are [SYS/TEMP], the others [SYS/PERM]. The text
    /// does not carry the store's own message (the handler logs it for the admin, DESIGN.md §5.5).
    static func storeFailure(_ error: StoreError, doing what: String) -> POP3Response {
        switch error {
        case .temporary, .expunged:
            return .error(.sysTemp, "Cannot \(what) right now, try again later")
        default:
            return .error(.sysPerm, "Cannot \(what); contact the administrator")
        }
    }
}
