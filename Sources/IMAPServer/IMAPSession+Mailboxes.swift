import Foundation
import IMAPProtocol
import MailAuth
import MailCore
import MailStore

/// Authenticated-state commands (RFC 9051 §6.3).
extension IMAPSession {
    // MARK: SELECT / EXAMINE (RFC 9051 §6.3.2, RFC 7162 §3.1.8, §3.2.5)

    func select(_ wire: IMAPMailboxName, parameters: [SelectParameter], readOnly: Bool) async throws -> Completion {
        var qresyncParameters: QResyncParameters?
        for p in parameters {
            switch p {
            case .condStore: condStore = true
            case .qresync(let q):
                guard qresync else { throw Failure.bad("QRESYNC is not enabled") }
                qresyncParameters = q
            }
        }
        if selected != nil {
            selected = nil
            savedSearch = nil
            // RFC 7162 §3.2.11, RFC 9051 §7.1: the old mailbox is closed from here on.
            if qresync || rev2 { await send(.condition(.ok, code: .closed, text: "Previous mailbox closed.")) }
        }
        if state == .selected { state = .authenticated }
        let name = try mailboxName(wire)
        let info = try await store.mailbox(user, named: name)
        guard info.selectable else { throw Failure.no("Mailbox is not selectable.", code: .cannot) }
        dirty = false
        let messages = try await store.allMessages(in: info.id)
        let uids = messages.map(\.uid)
        let recent = readOnly ? services.recent.peek(info.id, uids: uids) : services.recent.claim(info.id, uids: uids)
        let box = SelectedMailbox(info: info, messages: messages, readOnly: readOnly, recent: recent)

        var keywords = Set<String>()
        var keywordList: [String] = []
        for m in messages {
            for k in m.flags.keywords where keywords.insert(k.lowercased()).inserted { keywordList.append(k) }
        }
        let flags: [MessageFlag] = [.answered, .flagged, .deleted, .seen, .draft] + keywordList.sorted().map { .keyword($0) }
        announcedKeywords = Set(keywordList)
        await send(.flags(flags))
        await send(.exists(UInt32(box.count)))
        if !rev2 {
            await send(.recent(UInt32(recent.count)))
            if let first = box.messages.firstIndex(where: { !$0.flags.system.contains(.seen) }) {
                await send(.condition(.ok, code: .unseen(UInt32(first + 1)), text: "First unseen."))
            }
        }
        await send(.condition(.ok, code: .uidValidity(box.uidValidity), text: "UIDs valid"))
        await send(.condition(.ok, code: .uidNext(box.uidNext), text: "Predicted next UID"))
        await send(.condition(.ok, code: .permanentFlags(readOnly ? [] : flags + [.wildcard]),
                              text: readOnly ? "Read-only mailbox." : "Flags permitted."))
        await send(.condition(.ok, code: .highestModSeq(box.highestModSeq), text: "Highest"))
        if rev2 {
            await send(.list(ListResponse(attributes: [], mailbox: IMAPMailboxName(wireName(info.name)))))
        }
        selected = box
        state = .selected
        if let q = qresyncParameters, q.uidValidity == box.uidValidity {
            try await qresyncReport(q, box: box)
        }
        return .ok(code: readOnly ? .readOnly : .readWrite, text: readOnly ? "Examine completed." : "Select completed.")
    }

    /// RFC 7162 §3.2.5.2: what changed since the client's MODSEQ, as VANISHED (EARLIER) and FETCH.
    private func qresyncReport(_ q: QResyncParameters, box: SelectedMailbox) async throws {
        var known: UIDSet?
        if let set = q.knownUIDs { known = UIDSet(set.resolved(largest: box.lastUID)) }
        var vanished = try await store.expungedUIDs(in: box.id, since: q.modSeq)
        if let known { vanished = vanished.filter { known.contains($0) } }
        if !vanished.isEmpty {
            await send(.vanished(earlier: true, SequenceSet(numbers: vanished)))
        }
        for (i, m) in box.messages.enumerated() where m.modSeq > q.modSeq {
            if let known, !known.contains(m.uid) { continue }
            await send(.fetch(UInt32(i + 1), [.uid(m.uid), .flags(FetchResponse.flags(m, showRecent: !rev2)), .modSeq(m.modSeq)]))
        }
    }

    // MARK: CLOSE / UNSELECT (RFC 9051 §6.4.1, §6.4.2)

    func close(expunge: Bool) async throws -> Completion {
        if expunge, let box = selected, !box.readOnly {
            // Silently: CLOSE sends no EXPUNGE responses.
            _ = try await store.expunge(in: box.id, uids: nil)
        }
        selected = nil
        savedSearch = nil
        state = .authenticated
        return .ok(code: nil, text: expunge ? "Close completed." : "Unselect completed.")
    }

    // MARK: CREATE / DELETE / RENAME (RFC 9051 §6.3.4-6, RFC 6154 §3)

    func create(_ wire: IMAPMailboxName, use: [MailboxAttribute]) async throws -> Completion {
        var name = try mailboxName(wire)
        // RFC 9051 §6.3.4: a trailing delimiter says the client intends to create children.
        while name.hasSuffix("/") { name.removeLast() }
        var specialUse: SpecialUse?
        if !use.isEmpty {
            guard use.count == 1, let u = SpecialUse(rawValue: "\\" + use[0].name.prefix(1).uppercased() + use[0].name.dropFirst().lowercased()) else {
                throw Failure.no("Unsupported special-use attribute.", code: .other("USEATTR", nil))
            }
            specialUse = u
        }
        if name.uppercased() == "INBOX" { throw Failure.no("INBOX already exists.", code: .alreadyExists) }
        try await store.createMailbox(user, named: name, specialUse: specialUse)
        return .ok(code: nil, text: "Create completed.")
    }

    func delete(_ wire: IMAPMailboxName) async throws -> Completion {
        let name = try mailboxName(wire)
        if name == "INBOX" { throw Failure.no("INBOX cannot be deleted.", code: .cannot) }
        try await store.deleteMailbox(user, named: name)
        return .ok(code: nil, text: "Delete completed.")
    }

    func rename(from: IMAPMailboxName, to: IMAPMailboxName) async throws -> Completion {
        let old = try mailboxName(from)
        var new = try mailboxName(to)
        while new.hasSuffix("/") { new.removeLast() }
        try await store.renameMailbox(user, from: old, to: new)
        return .ok(code: nil, text: "Rename completed.")
    }

    // MARK: LIST (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154)

    func list(_ command: ListCommand) async throws -> Completion {
        let extended = !command.selectionOptions.isEmpty || !command.returnOptions.isEmpty || command.patterns.count > 1
        let reference = try listPattern(command.reference)
        let patterns = try command.patterns.map { try listPattern($0) }
        // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
        if !extended, patterns.count == 1, patterns[0].isEmpty {
            await send(.list(ListResponse(attributes: [.noSelect], mailbox: "")))
            return .ok(code: nil, text: "List completed.")
        }
        let selectSubscribed = command.selectionOptions.contains(.subscribed)
        let recursive = command.selectionOptions.contains(.recursiveMatch)
        let selectSpecialUse = command.selectionOptions.contains(.specialUse)
        if recursive && !selectSubscribed && !selectSpecialUse {
            throw Failure.bad("RECURSIVEMATCH needs another selection option")
        }
        var returnSubscribed = selectSubscribed
        var statusItems: [StatusAttribute]?
        for option in command.returnOptions {
            switch option {
            case .subscribed: returnSubscribed = true
            case .children, .specialUse: break  // always returned
            case .status(let items): statusItems = items
            }
        }

        let mailboxes = try await store.listMailboxes(user)
        let subscriptions = Set(try await store.listSubscriptions(user))
        let byName = Dictionary(mailboxes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let fullPatterns = patterns.filter { !$0.isEmpty }.map { Self.joinReference(reference, $0) }
        func matches(_ name: String) -> Bool { fullPatterns.contains { ListPattern.matches(pattern: $0, name: name) } }

        // Names to report: existing mailboxes, or subscriptions (which may not exist).
        var names: [String]
        if selectSubscribed {
            names = subscriptions.filter(matches).sorted(by: Self.mailboxOrder)
            if recursive {
                // Parents with a subscribed descendant also match (RFC 5258 §3.5 CHILDINFO).
                for m in mailboxes.map(\.name) where matches(m) && !subscriptions.contains(m) {
                    if subscriptions.contains(where: { $0.hasPrefix(m + "/") }) { names.append(m) }
                }
                names.sort(by: Self.mailboxOrder)
            }
        } else {
            names = mailboxes.map(\.name).filter(matches).sorted(by: Self.mailboxOrder)
        }
        let allNames = Set(mailboxes.map(\.name))
        for name in names {
            let info = byName[name]
            if selectSpecialUse && info?.specialUse == nil { continue }
            var attributes: [MailboxAttribute] = []
            if let info {
                if !info.selectable { attributes.append(.noSelect) }
                let hasChildren = allNames.contains { $0.hasPrefix(name + "/") }
                attributes.append(hasChildren ? .hasChildren : .hasNoChildren)
                if let use = info.specialUse { attributes.append(MailboxAttribute(use.rawValue)) }
            } else {
                attributes.append(.nonExistent)
            }
            if returnSubscribed && subscriptions.contains(name) { attributes.append(.subscribed) }
            let childInfo: [ListExtendedItem] = selectSubscribed && recursive && !subscriptions.contains(name)
                ? [.childInfo(["SUBSCRIBED"])] : []
            await send(.list(ListResponse(attributes: attributes, mailbox: IMAPMailboxName(wireName(name)), extended: childInfo)))
            if let statusItems, let info, info.selectable {
                await send(try await statusResponse(info, items: statusItems))
            }
        }
        return .ok(code: nil, text: "List completed.")
    }

    /// LIST/LSUB patterns are mailbox names with wildcards; decode them the same way.
    private func listPattern(_ wire: IMAPMailboxName) throws -> String {
        guard let text = wire.stringValue else { throw Failure.bad("Pattern is not valid UTF-8") }
        if utf8Names || !text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        return (try? ModifiedUTF7.decode(text)) ?? text
    }

    static func joinReference(_ reference: String, _ pattern: String) -> String {
        guard !reference.isEmpty else { return pattern }
        if reference.hasSuffix("/") && pattern.hasPrefix("/") { return reference + pattern.dropFirst() }
        return reference + pattern
    }

    /// INBOX first, then by name.
    static func mailboxOrder(_ a: String, _ b: String) -> Bool {
        if a == "INBOX" { return b != "INBOX" }
        if b == "INBOX" { return false }
        return a < b
    }

    func lsub(reference: IMAPMailboxName, pattern: IMAPMailboxName) async throws -> Completion {
        let ref = try listPattern(reference)
        let pat = try listPattern(pattern)
        if pat.isEmpty {
            await send(.lsub(ListResponse(attributes: [.noSelect], mailbox: "")))
            return .ok(code: nil, text: "Lsub completed.")
        }
        let full = Self.joinReference(ref, pat)
        let subscriptions = try await store.listSubscriptions(user)
        let mailboxes = Dictionary(try await store.listMailboxes(user).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var reported = Set<String>()
        var lines: [(String, [MailboxAttribute])] = []
        for name in subscriptions.sorted(by: Self.mailboxOrder) {
            if ListPattern.matches(pattern: full, name: name) {
                if reported.insert(name).inserted {
                    let selectable = mailboxes[name]?.selectable ?? false
                    lines.append((name, selectable ? [] : [.noSelect]))
                }
            } else {
                // RFC 3501 §6.3.9: with "%", an unsubscribed parent of a subscribed mailbox
                // is returned with \Noselect.
                for parent in MailboxName.ancestors(of: name) where ListPattern.matches(pattern: full, name: parent) {
                    if reported.insert(parent).inserted && !subscriptions.contains(parent) {
                        lines.append((parent, [.noSelect]))
                    }
                }
            }
        }
        for (name, attributes) in lines.sorted(by: { Self.mailboxOrder($0.0, $1.0) }) {
            await send(.lsub(ListResponse(attributes: attributes, mailbox: IMAPMailboxName(wireName(name)))))
        }
        return .ok(code: nil, text: "Lsub completed.")
    }

    // MARK: STATUS (RFC 9051 §6.3.11, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ, RFC 7889)

    func status(_ wire: IMAPMailboxName, items: [StatusAttribute]) async throws -> Completion {
        let name = try mailboxName(wire)
        let info = try await store.mailbox(user, named: name)
        guard info.selectable else { throw Failure.no("Mailbox is not selectable.", code: .cannot) }
        if items.contains(.highestModSeq) { condStore = true }
        await send(try await statusResponse(info, items: items))
        return .ok(code: nil, text: "Status completed.")
    }

    func statusResponse(_ info: MailboxInfo, items: [StatusAttribute]) async throws -> UntaggedResponse {
        var values: [StatusItem] = []
        for item in items {
            let value: UInt64
            switch item {
            case .messages: value = UInt64(info.messageCount)
            case .recent: value = UInt64(try await recentCount(info))
            case .uidNext: value = UInt64(info.uidNext)
            case .uidValidity: value = UInt64(info.uidValidity)
            case .unseen: value = UInt64(info.unseenCount)
            case .deleted: value = UInt64(info.deletedCount)
            case .size: value = UInt64(max(0, info.totalSize))
            case .highestModSeq: value = info.highestModSeq
            case .appendLimit: value = UInt64(configuration.appendLimit)
            }
            values.append(StatusItem(item, value))
        }
        return .status(IMAPMailboxName(wireName(info.name)), values)
    }

    /// Messages no session of this process has been told about yet (see `RecentTracker`).
    private func recentCount(_ info: MailboxInfo) async throws -> Int {
        let mark = services.recent.mark(info.id)
        if mark == 0 { return info.messageCount }
        if mark >= info.uidNext &- 1 { return 0 }
        return try await store.messages(in: info.id, uids: UIDSet([(mark + 1)...UInt32.max])).count
    }

    // MARK: APPEND (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND, RFC 4315 APPENDUID)

    func append(_ wire: IMAPMailboxName, messages: [AppendMessage]) async throws -> Completion {
        let name = try mailboxName(wire)
        guard !messages.isEmpty else { throw Failure.bad("APPEND without a message") }
        guard messages.count <= configuration.limits.maxAppendMessages else {
            throw Failure.no("Too many messages in one APPEND (limit \(configuration.limits.maxAppendMessages)).", code: .limit)
        }
        var newMessages: [NewMessage] = []
        newMessages.reserveCapacity(messages.count)
        let now = Int64(Date().timeIntervalSince1970)
        for m in messages {
            guard !m.data.isEmpty else { throw Failure.no("Cannot save an empty message.", code: .cannot) }
            guard m.data.count <= configuration.appendLimit else {
                throw Failure.no("Message too large (APPENDLIMIT \(configuration.appendLimit) octets).", code: .tooBig)
            }
            let flags = try Self.messageFlags(m.flags)
            let date = m.internalDate.map { InternalDate(seconds: $0.secondsSince1970, zoneMinutes: $0.zoneMinutes) }
                ?? InternalDate(seconds: now, zoneMinutes: 0)
            newMessages.append(NewMessage(bytes: m.data, flags: flags, internalDate: date))
        }
        let results: [AppendResult]
        if newMessages.count == 1 {
            results = [try await store.append(user, to: name, newMessages[0])]
        } else {
            results = try await store.appendAll(user, to: name, newMessages)
        }
        if let first = results.first, first.mailbox == selected?.id { dirty = true }
        logger.info("appended", metadata: ["mailbox": "\(name)", "count": "\(results.count)",
                                           "bytes": "\(newMessages.reduce(0) { $0 + $1.size })"])
        guard let first = results.first else { return .ok(code: nil, text: "Append completed.") }
        return .ok(code: .appendUID(uidValidity: first.uidValidity, uids: SequenceSet(numbers: results.map(\.uid))),
                   text: "Append completed.")
    }

    /// Flags from a command as the store's flags; \Recent cannot be set (RFC 3501 §2.3.2) and
    /// is ignored; an unknown system flag is an error.
    static func messageFlags(_ flags: [MessageFlag]) throws -> MessageFlags {
        var system: SystemFlags = []
        var keywords: [String] = []
        for flag in flags {
            switch flag {
            case .answered: system.insert(.answered)
            case .flagged: system.insert(.flagged)
            case .deleted: system.insert(.deleted)
            case .seen: system.insert(.seen)
            case .draft: system.insert(.draft)
            case .recent: continue
            case .keyword(let k):
                // NIL is an atom, but never a keyword a client means (Dovecot refuses it too).
                guard k.uppercased() != "NIL" else { throw Failure.bad("NIL is not a valid flag keyword") }
                keywords.append(k)
            case .extension(let e): throw Failure.bad("Unknown system flag \\\(e)")
            case .wildcard: throw Failure.bad("\\* is not a flag")
            }
        }
        return MessageFlags(system: system, keywords: keywords)
    }

    // MARK: QUOTA (RFC 9208)
    //
    // Each account has one quota root, "" as its owner sees it, covering all its mailboxes.
    // Quota administrators (`[quota] admins`) may also name another account's root by its
    // address, to read and set its limits.

    func getQuotaRoot(_ wire: IMAPMailboxName) async throws -> Completion {
        let name = try mailboxName(wire)
        _ = try await store.mailbox(user, named: name)
        let usage = try await store.quotaUsage(user)
        // An account without a limit has no quota root (RFC 9208 §4.3 allows none).
        await send(.quotaRoot(IMAPMailboxName(wireName(name)), roots: usage.isLimited ? [""] : []))
        if usage.isLimited { await send(Self.quota(usage, root: "")) }
        return .ok(code: nil, text: "Getquotaroot completed.")
    }

    func getQuota(root: String) async throws -> Completion {
        let owner = try await quotaRootOwner(root)
        let usage = try await store.quotaUsage(owner.id)
        guard usage.isLimited else { throw Failure.no("No such quota root.", code: .nonExistent) }
        await send(Self.quota(usage, root: root))
        return .ok(code: nil, text: "Getquota completed.")
    }

    /// RFC 9208 §4.1: the listed limits replace the root's; a resource left out is unlimited.
    func setQuota(root: String, limits: [QuotaLimit]) async throws -> Completion {
        guard let administration = services.quotaAdministration, isQuotaAdmin else {
            throw Failure.no("Only quota administrators may change quotas.", code: .noPerm)
        }
        let owner = try await quotaRootOwner(root)
        var bytes: Int64 = 0, messages: Int64 = 0
        for limit in limits {
            switch limit.resource {
            case "STORAGE":
                guard limit.limit <= UInt64(Int64.max / 1024) else { throw Failure.bad("STORAGE limit is too large") }
                bytes = Int64(limit.limit) * 1024
            case "MESSAGE":
                messages = Int64(limit.limit)
            default:
                throw Failure.no("Resource \(limit.resource) is not supported (STORAGE and MESSAGE are).", code: .cannot)
            }
        }
        do {
            try await administration.setQuota(owner.address, quotaBytes: bytes, maxMessages: messages)
        } catch {
            throw Failure.no("Cannot change the quota now.", code: .unavailable)
        }
        services.logger.notice("quota changed over IMAP", metadata: ["user": "\(owner.address)", "by": "\(account?.address ?? "")",
                                                                     "bytes": "\(bytes)", "messages": "\(messages)"])
        let usage = try await store.quotaUsage(owner.id)
        if usage.isLimited { await send(Self.quota(usage, root: root)) }
        return .ok(code: nil, text: "Setquota completed.")
    }

    var isQuotaAdmin: Bool {
        guard let login = account?.address.lowercased() else { return false }
        return services.quotaAdmins.contains(login)
    }

    /// The account a quota root belongs to: "" is the user's own; an address is that account's,
    /// for quota administrators only (to anyone else it does not exist).
    func quotaRootOwner(_ root: String) async throws -> Account {
        guard let own = account else { throw Failure.bad("Log in first") }
        if root.isEmpty { return own }
        guard isQuotaAdmin, let other = try? await services.authenticator.directory.account(login: root) else {
            throw Failure.no("No such quota root.", code: .nonExistent)
        }
        return other
    }

    /// STORAGE is counted in units of 1024 octets (RFC 9208 §5.1); only limited resources
    /// are listed.
    static func quota(_ usage: QuotaUsage, root: String) -> UntaggedResponse {
        var resources: [QuotaResource] = []
        if usage.limitBytes > 0 {
            resources.append(QuotaResource(name: "STORAGE", usage: UInt64(max(0, usage.bytes + 1023) / 1024),
                                           limit: UInt64(usage.limitBytes / 1024)))
        }
        if usage.limitMessages > 0 {
            resources.append(QuotaResource(name: "MESSAGE", usage: UInt64(max(0, usage.messages)), limit: UInt64(usage.limitMessages)))
        }
        return .quota(root: root, resources: resources)
    }

    // MARK: IDLE (RFC 2177, RFC 9051 §6.3.13)

    func startIdle(tag: String) async throws -> Completion {
        if let account { await services.collectSpool?(account, logger) }
        idleTag = tag
        await send(.continuation("idling"))
        dirty = true
        await reportUpdates(allowExpunge: true)
        await flushOutput()
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        idlePoke = continuation
        if dirty { continuation.yield() }
        idleTask = Task { [weak self] in
            for await _ in stream {
                guard let self, !Task.isCancelled else { return }
                await self.idleUpdate()
            }
        }
        return .pending(.idle)
    }

    /// Something changed while idling: tell the client at once.
    func idleUpdate() async {
        guard idleTag != nil, selected != nil else { return }
        await reportUpdates(allowExpunge: true)
        await flushOutput()
    }

    /// DONE (or a bad line) ends IDLE.
    func endIdle(error: String?) async -> Outcome {
        idlePoke?.finish()
        idlePoke = nil
        if let task = idleTask {
            task.cancel()
            await task.value
        }
        idleTask = nil
        let tag = idleTag ?? "*"
        idleTag = nil
        if let error {
            await tagged(tag, .bad, code: nil, error)
        } else {
            await reportUpdates(allowExpunge: true)
            await tagged(tag, .ok, code: nil, "Idle completed.")
        }
        await flushOutput()
        return Outcome(next: .commands, authenticated: account != nil, bad: error != nil)
    }
}

/// LIST wildcards (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the delimiter.
enum ListPattern {
    static func matches(pattern: String, name: String) -> Bool {
        var p = Array(pattern.unicodeScalars)
        var n = Array(name.unicodeScalars)
        // INBOX is case-insensitive (RFC 9051 §5.1), also as the first level of a name.
        if name == "INBOX" || name.hasPrefix("INBOX/") {
            let lower = { (s: Unicode.Scalar) -> Unicode.Scalar in
                (s.value >= 65 && s.value <= 90) ? Unicode.Scalar(s.value + 32)! : s
            }
            for i in 0..<min(5, p.count) { p[i] = lower(p[i]) }
            for i in 0..<5 { n[i] = lower(n[i]) }
        }
        // Dynamic programming over (pattern prefix, name prefix): linear in each, no backtracking.
        var row = [Bool](repeating: false, count: n.count + 1)
        row[0] = true
        for pc in p {
            var next = [Bool](repeating: false, count: n.count + 1)
            switch pc {
            case "*":
                next[0] = row[0]
                for j in 1...max(1, n.count) where j <= n.count { next[j] = row[j] || next[j - 1] }
            case "%":
                next[0] = row[0]
                for j in 1...max(1, n.count) where j <= n.count { next[j] = row[j] || (next[j - 1] && n[j - 1] != "/") }
            default:
                for j in 1...max(1, n.count) where j <= n.count { next[j] = row[j - 1] && n[j - 1] == pc }
            }
            row = next
        }
        return row[n.count]
    }
}
