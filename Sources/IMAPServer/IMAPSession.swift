import Foundation
import IMAPProtocol
import Logging
import MailAuth
import MailCore
import MailStore
import ServerSupport
import Metrics

/// One IMAP connection's session: protocol state (RFC 9051 §3), the selected mailbox and the
/// execution of commands against the store.
///
/// The driver (`IMAPDriver`) frames input into commands and hands them over one at a time; the
/// session runs each to completion, encoding its responses and handing them to the
/// connection's writer (which waits for the socket to drain when much is buffered), and tells
/// the driver how to read what comes next. It never touches the channel. The
/// protocol decisions with interesting state live in pure value types (`SelectedMailbox`,
/// `SearchProgram`, the response builders) that are unit-tested on their own.
actor IMAPSession {
    enum State {
        case notAuthenticated
        case authenticated
        case selected
        case logout
    }

    /// How the handler reads the next input.
    enum Next: Sendable {
        case commands
        /// A SASL challenge was sent: the next line is the client's response.
        case authenticationResponse
        /// IDLE is running: the next line should be DONE.
        case idle
        /// Close the connection (the responses have been written).
        case close
    }

    struct Outcome: Sendable {
        var next: Next
        var authenticated: Bool
        /// The command was answered BAD (the handler counts these).
        var bad = false
        /// The end of the command's output (its tagged reply), written by the driver on the
        /// event loop as it takes the outcome: one thread hop per command fewer than a write
        /// awaited here. Large outputs were already written, with back-pressure, as they grew.
        var output: [UInt8] = []
    }

    /// A tagged NO or BAD with its response code (RFC 9051 §7.1).
    struct Failure: Error {
        enum Status {
            case no, bad
            var tagged: TaggedStatus { self == .no ? .no : .bad }
        }
        var status: Status
        var code: IMAPResponseCode?
        var text: String

        static func no(_ text: String, code: IMAPResponseCode? = nil) -> Failure { Failure(status: .no, code: code, text: text) }
        static func bad(_ text: String, code: IMAPResponseCode? = nil) -> Failure { Failure(status: .bad, code: code, text: text) }
    }

    /// What a command handler returns when it succeeded.
    enum Completion {
        case ok(code: IMAPResponseCode?, text: String)
        /// The command is still running (AUTHENTICATE challenge, IDLE); no tagged reply yet.
        case pending(Next)
        case logout
    }

    let configuration: IMAPServerConfiguration
    let services: IMAPServices
    let writer: ConnectionWriter
    let clientIP: String
    var logger: Logger
    var store: any MailStore { services.store }

    var state: State = .notAuthenticated
    var tlsActive: Bool
    var account: Account?
    var selected: SelectedMailbox?

    // Extensions the client turned on (RFC 5161 ENABLE, RFC 7162 §3.1 CONDSTORE-enabling commands).
    var condStore = false
    var qresync = false
    var rev2 = false
    var utf8Accept = false

    /// Keywords told to the client in FLAGS since the mailbox was selected (RFC 9051 §7.3.5).
    var announcedKeywords: Set<String> = []

    /// RFC 5182 SEARCHRES: UIDs of the last `SEARCH RETURN (SAVE)`.
    var savedSearch: [UInt32]?

    /// The store reported a change in the selected mailbox that it has not been read yet.
    var dirty = false
    var watcher: Task<Void, Never>?
    var idleTag: String?
    var idleTask: Task<Void, Never>?
    var idlePoke: AsyncStream<Void>.Continuation?

    var sasl: SASLExchange?
    var saslTag: String?
    var authenticationFailures = 0

    private var output: [UInt8] = []
    /// The connection is gone: long loops stop instead of working for nobody.
    private(set) var clientGone = false

    init(configuration: IMAPServerConfiguration, services: IMAPServices, writer: ConnectionWriter, clientIP: String, tlsActive: Bool) {
        self.configuration = configuration
        self.services = services
        self.writer = writer
        self.clientIP = clientIP
        self.tlsActive = tlsActive
        var logger = services.logger
        logger[metadataKey: "client"] = "\(clientIP)"
        logger[metadataKey: "service"] = "\(configuration.implicitTLS ? "imaps" : "imap")"
        self.logger = logger
    }

    var utf8Names: Bool { rev2 || utf8Accept }

    var capabilities: [String] {
        Capabilities.list(tlsActive: tlsActive, tlsAvailable: services.tlsAvailable, authenticated: account != nil,
                          configuration: configuration)
    }

    var fetchOptions: FetchResponse.Options {
        FetchResponse.Options(showRecent: !rev2, rev2: rev2, condStore: condStore)
    }

    // MARK: Output

    func send(_ response: IMAPResponse) async {
        if case .untagged(.fetch(_, let items)) = response { announceNewKeywords(in: items) }
        IMAPEncoder(utf8: utf8Names).encode(response, into: &output)
        if output.count >= configuration.limits.outputHighWater { await flushOutput() }
    }

    func send(_ untagged: UntaggedResponse) async { await send(.untagged(untagged)) }

    /// RFC 9051 §7.3.5: a keyword the client has not been told of is announced in FLAGS (and
    /// PERMANENTFLAGS) before a FETCH shows it on a message.
    private func announceNewKeywords(in items: [FetchResponseItem]) {
        guard let box = selected else { return }
        var added = false
        for case .flags(let flags) in items {
            for case .keyword(let k) in flags where !announcedKeywords.contains(k) {
                announcedKeywords.insert(k)
                added = true
            }
        }
        guard added else { return }
        let flags: [MessageFlag] = [.answered, .flagged, .deleted, .seen, .draft] + announcedKeywords.sorted().map { .keyword($0) }
        let encoder = IMAPEncoder(utf8: utf8Names)
        encoder.encode(.untagged(.flags(flags)), into: &output)
        encoder.encode(.untagged(.condition(.ok, code: .permanentFlags(box.readOnly ? [] : flags + [.wildcard]),
                                            text: "Flags permitted.")), into: &output)
    }

    /// Writes what is buffered and waits until the socket has taken it (back-pressure for
    /// large FETCH responses, and ordering with the driver's own writes).
    func flushOutput() async {
        guard !output.isEmpty else { return }
        let bytes = output
        output.removeAll(keepingCapacity: output.count <= 64 * 1024)
        guard !clientGone else { return }
        do {
            try await writer.write(bytes)
        } catch {
            clientGone = true
        }
    }

    /// What is buffered, for the driver to write (see `Outcome.output`).
    private func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: output.count <= 64 * 1024) }
        return clientGone ? [] : output
    }

    /// Stops a long command (FETCH, SEARCH) whose client has gone away.
    func ensureClientPresent() async throws {
        if !clientGone, !(await writer.isOpen()) { clientGone = true }
        if clientGone { throw ClientGone() }
    }

    struct ClientGone: Error {}

    func tagged(_ tag: String, _ status: TaggedStatus, code: IMAPResponseCode?, _ text: String) async {
        await send(.tagged(tag: tag, status: status, code: code, text: text))
    }

    // MARK: Commands

    func tlsStarted() {
        tlsActive = true
    }

    /// Runs one command to completion (or to its first continuation).
    func execute(_ command: TaggedCommand) async -> Outcome {
        let tag = command.tag
        var bad = false
        var next = Next.commands
        do {
            try checkState(command.command)
            switch try await run(command.command, tag: tag) {
            case .ok(let code, let text):
                await reportUpdates(after: command.command)
                await tagged(tag, .ok, code: code, text)
            case .pending(let n):
                next = n
            case .logout:
                state = .logout
                await send(.condition(.bye, text: "Logging out"))
                await tagged(tag, .ok, code: nil, "Logout completed.")
                next = .close
            }
        } catch let failure as Failure {
            if failure.status == .no { await reportUpdates(after: command.command) }
            bad = failure.status == .bad
            logRefusal(tag, command.command, failure)
            await tagged(tag, failure.status.tagged, code: failure.code, failure.text)
            if await closeAfterTooManyFailures(failure) { next = .close }
        } catch is ClientGone {
            logger.info("client gone during command", metadata: ["command": "\(command.command.name)"])
            return Outcome(next: .close, authenticated: account != nil)
        } catch let error as StoreError {
            let failure = storeFailure(error, command: command.command)
            logRefusal(tag, command.command, failure)
            await reportUpdates(after: command.command)
            await tagged(tag, failure.status.tagged, code: failure.code, failure.text)
        } catch {
            logger.error("command failed", metadata: ["command": "\(command.command.name)", "error": "\(error)"])
            await tagged(tag, .no, code: .serverBug, "Internal error occurred. Refer to server log for more information.")
        }
        Counter(label: "swallow_commands_total", dimensions: [("protocol", "imap"), ("command", command.command.name)]).increment()
        return Outcome(next: next, authenticated: account != nil, bad: bad, output: takeOutput())
    }

    /// A NO or BAD in the log, for the administrator: the tag, the command's name and the reason,
    /// never its arguments (LOGIN's carry a password).
    private func logRefusal(_ tag: String, _ command: IMAPCommand, _ failure: Failure) {
        Counter(label: "swallow_command_refusals_total",
                dimensions: [("protocol", "imap"), ("status", failure.status == .no ? "NO" : "BAD")]).increment()
        logger.info("refused", metadata: ["tag": "\(LogSafe.escape(tag))", "command": "\(command.name)",
                                          "status": "\(failure.status == .no ? "NO" : "BAD")",
                                          "reason": "\(LogSafe.escape(failure.text))"])
    }

    /// RFC 9051 §3: which commands each state allows.
    func checkState(_ command: IMAPCommand) throws {
        switch command {
        case .capability, .noop, .logout, .id:
            return
        case .compress:
            // Handled by the driver, on the event loop (it changes the pipeline).
            throw Failure.bad("COMPRESS is handled by the connection.")
        case .startTLS, .authenticate, .login:
            if state != .notAuthenticated { throw Failure.bad("Already authenticated") }
        case .enable, .select, .examine, .create, .delete, .rename, .subscribe, .unsubscribe, .list, .lsub,
             .namespace, .status, .append, .idle, .getQuota, .getQuotaRoot, .setQuota:
            if state == .notAuthenticated { throw Failure.bad("Log in first") }
        case .check, .close, .unselect, .expunge, .uidExpunge, .search, .sort, .fetch, .store, .copy, .move:
            if state == .notAuthenticated { throw Failure.bad("Log in first") }
            if state != .selected { throw Failure.bad("No mailbox selected") }
        }
    }

    func run(_ command: IMAPCommand, tag: String) async throws -> Completion {
        switch command {
        case .capability:
            await send(.capability(capabilities))
            return .ok(code: nil, text: "Capability completed.")
        case .noop:
            if let account { await services.collectSpool?(account, logger) }
            dirty = true
            return .ok(code: nil, text: "NOOP completed.")
        case .check:
            dirty = true
            return .ok(code: nil, text: "CHECK completed.")
        case .logout:
            return .logout
        case .id(let params):
            if let params, !params.isEmpty {
                let text = params.prefix(30).map { "\($0.key)=\($0.value ?? "NIL")" }.joined(separator: " ")
                logger.debug("client ID", metadata: ["id": "\(LogSafe.escape(String(text.prefix(512))))"])
            }
            await send(.id([IDParameter(key: "name", value: "Swallow"), IDParameter(key: "vendor", value: "Swallow")]))
            return .ok(code: nil, text: "ID completed.")
        case .startTLS:
            // The driver handles STARTTLS before the session sees it; reaching here means no TLS.
            throw Failure.no("TLS is not available.", code: .cannot)
        case .compress:
            // Likewise COMPRESS (checkState refuses it first).
            throw Failure.no("Compression is not available.", code: .cannot)
        case .login(let username, let password):
            return try await login(username: username, password: password)
        case .authenticate(let mechanism, let initialResponse):
            return try await authenticate(tag: tag, mechanism: mechanism, initialResponse: initialResponse)
        case .enable(let names):
            return enable(names)
        case .select(let name, let parameters):
            return try await select(name, parameters: parameters, readOnly: false)
        case .examine(let name, let parameters):
            return try await select(name, parameters: parameters, readOnly: true)
        case .create(let name, let use):
            return try await create(name, use: use)
        case .delete(let name):
            return try await delete(name)
        case .rename(let from, let to):
            return try await rename(from: from, to: to)
        case .subscribe(let name):
            try await store.setSubscribed(user, named: try mailboxName(name), true)
            return .ok(code: nil, text: "Subscribe completed.")
        case .unsubscribe(let name):
            try await store.setSubscribed(user, named: try mailboxName(name), false)
            return .ok(code: nil, text: "Unsubscribe completed.")
        case .list(let list):
            return try await self.list(list)
        case .lsub(let reference, let pattern):
            return try await lsub(reference: reference, pattern: pattern)
        case .namespace:
            await send(.namespace(personal: [NamespaceDescription(prefix: "")], other: nil, shared: nil))
            return .ok(code: nil, text: "Namespace completed.")
        case .status(let name, let items):
            return try await status(name, items: items)
        case .append(let name, let messages):
            return try await append(name, messages: messages)
        case .idle:
            return try await startIdle(tag: tag)
        case .getQuota(let root):
            return try await getQuota(root: root)
        case .getQuotaRoot(let name):
            return try await getQuotaRoot(name)
        case .setQuota(let root, let limits):
            return try await setQuota(root: root, limits: limits)
        case .close:
            return try await close(expunge: true)
        case .unselect:
            return try await close(expunge: false)
        case .expunge:
            return try await expunge(uids: nil)
        case .uidExpunge(let set):
            return try await expunge(uids: set)
        case .search(let search, let uid):
            return try await self.search(search, uid: uid, tag: tag)
        case .sort(let criteria, let search, let uid):
            return try await sort(criteria, search, uid: uid)
        case .fetch(let set, let attributes, let modifiers, let uid):
            return try await fetch(set, attributes: attributes, modifiers: modifiers, uid: uid)
        case .store(let set, let unchangedSince, let action, let uid):
            return try await storeFlags(set, unchangedSince: unchangedSince, action: action, uid: uid)
        case .copy(let set, let name, let uid):
            return try await copy(set, to: name, uid: uid, move: false)
        case .move(let set, let name, let uid):
            return try await copy(set, to: name, uid: uid, move: true)
        }
    }

    var user: UserID {
        // Only called in authenticated states (checkState).
        account?.id ?? UserID(-1)
    }

    // MARK: Enable (RFC 5161)

    func enable(_ names: [String]) -> Completion {
        var enabled: [String] = []
        for name in names {
            switch name.uppercased() {
            case "CONDSTORE":
                if !condStore { condStore = true; enabled.append("CONDSTORE") }
            case "QRESYNC":
                // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                if !qresync { qresync = true; condStore = true; enabled.append("QRESYNC") }
            case "IMAP4REV2":
                if !rev2 { rev2 = true; enabled.append("IMAP4rev2") }
            case "UTF8=ACCEPT":
                if !utf8Accept { utf8Accept = true; enabled.append("UTF8=ACCEPT") }
            default:
                break
            }
        }
        IMAPEncoder(utf8: utf8Names).encode(.untagged(.enabled(enabled)), into: &output)
        return .ok(code: nil, text: "Enabled.")
    }

    // MARK: Mailbox names (RFC 3501 §5.1.3, RFC 9051 §5.1, RFC 6855 §3)

    /// A client-supplied mailbox name as the store's UTF-8 name: modified UTF-7 under
    /// IMAP4rev1, UTF-8 once IMAP4rev2 or UTF8=ACCEPT is enabled.
    func mailboxName(_ name: IMAPMailboxName) throws -> String {
        guard name.bytes.count <= configuration.limits.maxMailboxNameLength else {
            throw Failure.no("Mailbox name too long", code: .cannot)
        }
        guard let text = name.stringValue else { throw Failure.no("Mailbox name is not valid UTF-8", code: .cannot) }
        if utf8Names || !text.utf8.allSatisfy({ $0 < 0x80 }) {
            // Non-ASCII octets cannot be modified UTF-7: a client sending raw UTF-8 under
            // IMAP4rev1 means UTF-8; accept it rather than create an unreachable name.
            return MailboxName.normalize(text)
        }
        do {
            return MailboxName.normalize(try ModifiedUTF7.decode(text))
        } catch {
            throw Failure.no("Mailbox name is not valid modified UTF-7: \(error)", code: .cannot)
        }
    }

    /// A store name as it goes on the wire.
    func wireName(_ name: String) -> [UInt8] {
        utf8Names ? Array(name.utf8) : Array(ModifiedUTF7.encode(name).utf8)
    }

    // MARK: Errors

    /// StoreError to a tagged NO (DESIGN.md §5.6, RFC 9051 §7.1 response codes).
    func storeFailure(_ error: StoreError, command: IMAPCommand) -> Failure {
        switch error {
        case .notFound:
            switch command {
            case .append, .copy, .move:
                // RFC 9051 §6.3.12, §6.4.7: the client may CREATE and retry.
                return .no("Mailbox doesn't exist.", code: .tryCreate)
            default:
                return .no("Mailbox doesn't exist.", code: .nonExistent)
            }
        case .exists:
            return .no("Mailbox already exists.", code: .alreadyExists)
        case .overQuota:
            return .no("Quota exceeded.", code: .overQuota)
        case .expunged:
            return .no("Some of the requested messages no longer exist.", code: .expungeIssued)
        case .invalidName(_, let reason):
            return .no("Invalid mailbox name: \(reason).", code: .cannot)
        case .notPermitted(let why):
            return .no("Not permitted: \(why).", code: .cannot)
        case .tooLarge(let limit):
            return .no("Message larger than \(limit) octets.", code: .tooBig)
        case .temporary(let why):
            logger.error("storage failure", metadata: ["command": "\(command.name)", "error": "\(why)"])
            return .no("Internal error occurred. Refer to server log for more information.", code: .serverBug)
        }
    }

    // MARK: Keeping the selected mailbox current (RFC 9051 §5.2, §7.4.1)

    /// Called by the change watcher for every store change of this user.
    func noteChange(_ change: StoreChange) {
        guard let box = selected else { return }
        if change.mailbox == box.id || change.mailbox == nil {
            dirty = true
            idlePoke?.yield()
        }
    }

    /// Reads what changed in the selected mailbox since the session last looked.
    func sync() async {
        guard var box = selected, dirty else { return }
        dirty = false
        do {
            let sync = try await store.sync(box.id, since: box.highestModSeq)
            guard sync.uidValidity == box.uidValidity else {
                box.apply(changed: [], expunged: box.messages.map(\.uid), highestModSeq: box.highestModSeq,
                          uidNext: box.uidNext, claimRecent: { _ in [] })
                selected = box
                return
            }
            if sync.highestModSeq > box.highestModSeq || sync.uidNext > box.uidNext {
                let readOnly = box.readOnly, id = box.id
                box.apply(changed: sync.changed, expunged: sync.expunged, highestModSeq: sync.highestModSeq, uidNext: sync.uidNext) { uids in
                    readOnly ? services.recent.peek(id, uids: uids) : services.recent.claim(id, uids: uids)
                }
                // Another await may have replaced the selection meanwhile.
                if selected?.id == box.id { selected = box }
            }
        } catch {
            if case .notFound = error {
                // The mailbox was deleted under us: everything in it is gone.
                box.apply(changed: [], expunged: box.messages.map(\.uid), highestModSeq: box.highestModSeq,
                          uidNext: box.uidNext, claimRecent: { _ in [] })
                if selected?.id == box.id { selected = box }
            } else {
                dirty = true
                logger.warning("cannot refresh selected mailbox", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Sends the untagged responses the client is owed before a command's tagged reply.
    func reportUpdates(after command: IMAPCommand) async {
        guard selected != nil else { return }
        await reportUpdates(allowExpunge: Self.allowsExpunge(command))
    }

    func reportUpdates(allowExpunge: Bool) async {
        await sync()
        guard var box = selected else { return }
        let updates = box.flush(allowExpunge: allowExpunge, vanished: qresync, reportRecent: !rev2)
        selected = box
        let options = fetchOptions
        for update in updates {
            switch update {
            case .expunge(let seq): await send(.expunge(UInt32(seq)))
            case .vanished(let uids): await send(.vanished(earlier: false, SequenceSet(numbers: uids)))
            case .exists(let n): await send(.exists(UInt32(n)))
            case .recent(let n): await send(.recent(UInt32(n)))
            case .flags(let seq, let m): await send(.fetch(UInt32(seq), FetchResponse.flagUpdate(m, options: options)))
            }
        }
    }

    /// RFC 9051 §7.5.1: no EXPUNGE while responding to FETCH, STORE or SEARCH by sequence
    /// number (the client could not tell which message a number meant).
    static func allowsExpunge(_ command: IMAPCommand) -> Bool {
        switch command {
        case .fetch(_, _, _, let uid), .store(_, _, _, let uid), .search(_, let uid), .sort(_, _, let uid): uid
        default: true
        }
    }

    // MARK: Watching the store

    func startWatching(_ user: UserID) {
        watcher?.cancel()
        let stream = store.changes.subscribe(user: user)
        watcher = Task { [weak self] in
            for await change in stream {
                guard let self else { return }
                await self.noteChange(change)
            }
        }
    }

    /// The connection is gone: stop background work.
    func shutdown() {
        watcher?.cancel()
        watcher = nil
        idlePoke?.finish()
        idlePoke = nil
        idleTask?.cancel()
        idleTask = nil
    }
}
