import Foundation
import IMAPProtocol
import MailCore
import MailStore

/// Selected-state commands (RFC 9051 §6.4).
extension IMAPSession {
    /// The selected mailbox (checkState guarantees one).
    func selectedBox() throws -> SelectedMailbox {
        guard let box = selected else { throw Failure.bad("No mailbox selected") }
        return box
    }

    /// Indices of the messages a sequence set names, by UID or by sequence number.
    func resolve(_ set: SequenceSet, uid: Bool, in box: SelectedMailbox) throws -> [Int] {
        if uid { return box.indices(uids: set, saved: savedSearch) }
        do {
            return try box.indices(sequence: set, saved: savedSearch)
        } catch {
            throw Failure.bad("Invalid message sequence number: \(set)")
        }
    }

    /// Messages to read per store query when FETCH or SEARCH needs contents: one read for many
    /// small messages (more when only their headers are read)...
    static let contentBatch = 64
    static let headerBatch = 512
    /// ...and at most this many bytes of them, so a batch of large messages stays bounded too
    /// (one message larger than this is read alone).
    static let contentBatchBytes = 8 * 1024 * 1024

    /// Where the batch that starts at `start` of `count` messages ends, given their sizes.
    /// The byte budget counts whole messages even when only headers are read: a header can be
    /// as large as its message.
    static func batchEnd(from start: Int, count: Int, headersOnly: Bool = false, size: (Int) -> Int) -> Int {
        var end = start
        var bytes = 0
        while end < count, end - start < (headersOnly ? headerBatch : contentBatch) {
            bytes += size(end)
            if end > start, bytes > contentBatchBytes { break }
            end += 1
        }
        return end
    }

    /// The contents of `uids` (expunged ones absent), one store read per batch.
    /// `headersOnly`: each message's header section alone (header searches).
    func loadMessages(_ mailbox: MailboxID, _ uids: [UInt32], headersOnly: Bool = false) async throws -> [UInt32: LoadedMessage] {
        let bytes = headersOnly ? try await store.messageHeaders(in: mailbox, uids: UIDSet(uids))
                                : try await store.messageBytes(in: mailbox, uids: UIDSet(uids))
        return bytes.mapValues { LoadedMessage(bytes: $0) }
    }

    /// The messages of the selected mailbox that `command`'s keys match, in mailbox order (SEARCH
    /// and SORT).
    func matches(_ command: SearchCommand) async throws -> (SearchProgram, [(seq: Int, uid: UInt32, modSeq: UInt64)]) {
        if let charset = command.charset, !["US-ASCII", "UTF-8", "UTF8"].contains(charset.uppercased()) {
            throw Failure.no("Unsupported charset.", code: .badCharset(["US-ASCII", "UTF-8"]))
        }
        let box = try selectedBox()
        let program = SearchProgram(command.key, mailbox: box, saved: savedSearch)
        if program.usesModSeq { condStore = true }
        if program.needsContent, box.count > configuration.limits.maxSearchContentMessages {
            throw Failure.no("Mailbox too large to search message text (limit \(configuration.limits.maxSearchContentMessages) messages).",
                             code: .limit)
        }
        let now = Int64(Date().timeIntervalSince1970)
        var matched: [(seq: Int, uid: UInt32, modSeq: UInt64)] = []
        var batch: [UInt32: LoadedMessage] = [:]
        var batchEnd = 0
        for (i, m) in box.messages.enumerated() {
            var content: LoadedMessage?
            if program.needsContent {
                if i >= batchEnd {
                    try await ensureClientPresent()
                    batchEnd = Self.batchEnd(from: i, count: box.messages.count, headersOnly: !program.needsBody) {
                        box.messages[$0].size
                    }
                    batch = try await loadMessages(box.id, box.messages[i..<batchEnd].filter { !$0.expunged }.map(\.uid),
                                                   headersOnly: !program.needsBody)
                }
                if m.expunged { continue }
                guard let loaded = batch[m.uid] else { continue }
                content = loaded
            }
            if program.matches(.init(seq: i + 1, message: m, content: content), now: now) {
                matched.append((i + 1, m.uid, m.modSeq))
            }
        }
        return (program, matched)
    }

    // MARK: FETCH (RFC 9051 §6.4.5, RFC 7162 §3.1.4, §3.2.6)

    func fetch(_ set: SequenceSet, attributes: [FetchAttribute], modifiers: [FetchModifier], uid: Bool) async throws -> Completion {
        var box = try selectedBox()
        var indices = try resolve(set, uid: uid, in: box)
        var items = attributes
        var changedSince: UInt64?
        var vanished = false
        for modifier in modifiers {
            switch modifier {
            case .changedSince(let n): changedSince = n
            case .vanished: vanished = true
            }
        }
        if vanished && (!qresync || !uid || changedSince == nil) {
            throw Failure.bad("VANISHED needs UID FETCH with CHANGEDSINCE after ENABLE QRESYNC")
        }
        if items.contains(.modSeq) || changedSince != nil { condStore = true }
        if uid, !items.contains(.uid) { items.insert(.uid, at: 0) }
        if changedSince != nil, !items.contains(.modSeq) { items.append(.modSeq) }
        if let since = changedSince {
            indices = indices.filter { box.messages[$0].modSeq > since }
            if vanished {
                // RFC 7162 §3.2.6: expunged UIDs within the requested set.
                let requested = UIDSet(set.resolved(largest: max(box.lastUID, box.uidNext &- 1)))
                let gone = try await store.expungedUIDs(in: box.id, since: since).filter { requested.contains($0) }
                if !gone.isEmpty { await send(.vanished(earlier: true, SequenceSet(numbers: gone))) }
            }
        }

        // RFC 9051 §6.4.5: BODY[...] without .PEEK sets \Seen; the response then includes FLAGS.
        var seenChanged = Set<UInt32>()
        if !box.readOnly, items.contains(where: FetchResponse.setsSeen) {
            let unseen = indices.map { box.messages[$0] }.filter { !$0.expunged && !$0.flags.system.contains(.seen) }.map(\.uid)
            if !unseen.isEmpty {
                let result = try await store.setFlags(in: box.id, uids: UIDSet(unseen), .add, MessageFlags(system: .seen),
                                                      unchangedSince: nil)
                box.recordOwnFlags(result.updated)
                selected = box
                seenChanged = Set(result.updated.map(\.uid))
            }
        }

        let needsContent = items.contains(where: FetchResponse.needsContent)
        let headersOnly = items.allSatisfy(FetchResponse.needsOnlyHeader)
        let options = fetchOptions
        var expungeIssued = false
        var batch: [UInt32: LoadedMessage] = [:]
        var batchEnd = 0
        for (position, i) in indices.enumerated() {
            let m = box.messages[i]
            var messageItems = items
            if seenChanged.contains(m.uid), !messageItems.contains(.flags) { messageItems.append(.flags) }
            var content: LoadedMessage?
            if needsContent {
                if position >= batchEnd {
                    try await ensureClientPresent()
                    batchEnd = Self.batchEnd(from: position, count: indices.count, headersOnly: headersOnly) {
                        box.messages[indices[$0]].size
                    }
                    batch = try await loadMessages(box.id, indices[position..<batchEnd].map { box.messages[$0].uid },
                                                   headersOnly: headersOnly)
                }
                if m.expunged { expungeIssued = true; continue }
                guard let loaded = batch[m.uid] else {
                    expungeIssued = true
                    continue
                }
                content = loaded
            }
            do {
                if clientGone { throw ClientGone() }
                let data = try FetchResponse.items(message: m, content: content, attributes: messageItems, options: options)
                await send(.fetch(UInt32(i + 1), data))
            } catch is ClientGone {
                throw ClientGone()
            } catch {
                throw Failure.no("Unknown Content-Transfer-Encoding.", code: .unknownCTE)
            }
        }
        if expungeIssued {
            throw Failure.no("Some of the requested messages no longer exist.", code: .expungeIssued)
        }
        return .ok(code: nil, text: "Fetch completed.")
    }

    // MARK: STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3)

    func storeFlags(_ set: SequenceSet, unchangedSince: UInt64?, action: StoreAction, uid: Bool) async throws -> Completion {
        var box = try selectedBox()
        guard !box.readOnly else { throw Failure.no("Mailbox is read-only.", code: .readOnly) }
        let indices = try resolve(set, uid: uid, in: box)
        if unchangedSince != nil { condStore = true }
        let flags = try Self.messageFlags(action.flags)
        let live = indices.filter { !box.messages[$0].expunged }
        let operation: FlagOperation = switch action.operation {
        case .add: .add
        case .remove: .remove
        case .replace: .replace
        }
        var modified: [UInt32] = []
        if !live.isEmpty {
            let uids = UIDSet(live.map { box.messages[$0].uid })
            let result = try await store.setFlags(in: box.id, uids: uids, operation, flags, unchangedSince: unchangedSince)
            box.recordOwnFlags(result.updated)
            selected = box
            modified = result.modified
            let updated = Set(result.updated.map(\.uid))
            let failed = Set(result.modified)
            let options = fetchOptions
            for i in live {
                let m = box.messages[i]
                if failed.contains(m.uid) { continue }
                var items: [FetchResponseItem] = []
                if !action.silent {
                    if uid { items.append(.uid(m.uid)) }
                    items.append(.flags(FetchResponse.flags(m, showRecent: options.showRecent)))
                    if condStore { items.append(.modSeq(m.modSeq)) }
                } else if condStore && updated.contains(m.uid) {
                    // RFC 7162 §3.1.3: the new MODSEQ is reported even with .SILENT.
                    if uid { items.append(.uid(m.uid)) }
                    items.append(.modSeq(m.modSeq))
                }
                if !items.isEmpty { await send(.fetch(UInt32(i + 1), items)) }
            }
        }
        if !modified.isEmpty {
            let numbers: [UInt32] = uid ? modified : modified.compactMap { box.index(ofUID: $0) }.map { UInt32($0 + 1) }
            return .ok(code: .modified(SequenceSet(numbers: numbers)), text: "Conditional STORE failed.")
        }
        return .ok(code: nil, text: "Store completed.")
    }

    // MARK: COPY / MOVE (RFC 9051 §6.4.7, §6.4.8, RFC 6851, RFC 4315 COPYUID)

    func copy(_ set: SequenceSet, to wire: IMAPMailboxName, uid: Bool, move: Bool) async throws -> Completion {
        var box = try selectedBox()
        if move && box.readOnly { throw Failure.no("Mailbox is read-only.", code: .readOnly) }
        let indices = try resolve(set, uid: uid, in: box)
        let target = try mailboxName(wire)
        let uids = indices.map { box.messages[$0] }.filter { !$0.expunged }.map(\.uid)
        guard !uids.isEmpty else {
            if indices.isEmpty {
                return .ok(code: nil, text: move ? "No messages moved." : "No messages copied.")
            }
            throw Failure.no("Some of the requested messages no longer exist.", code: .expungeIssued)
        }
        let result = move ? try await store.move(from: box.id, uids: UIDSet(uids), to: target)
                          : try await store.copy(from: box.id, uids: UIDSet(uids), to: target)
        if result.destination == box.id { dirty = true }
        let code: IMAPResponseCode? = result.uids.isEmpty ? nil
            : .copyUID(uidValidity: result.uidValidity, source: SequenceSet(numbers: result.uids.map(\.source)),
                       destination: SequenceSet(numbers: result.uids.map(\.destination)))
        if move {
            // RFC 6851 §4.3: COPYUID in an untagged OK before the expunges.
            if let code { await send(.condition(.ok, code: code, text: "Moved UIDs.")) }
            box.recordExpunged(result.uids.map(\.source))
            selected = box
            return .ok(code: nil, text: "Move completed.")
        }
        return .ok(code: code, text: "Copy completed.")
    }

    // MARK: EXPUNGE / UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9)

    func expunge(uids set: SequenceSet?) async throws -> Completion {
        var box = try selectedBox()
        guard !box.readOnly else { throw Failure.no("Mailbox is read-only.", code: .readOnly) }
        var restrict: UIDSet?
        if let set {
            restrict = UIDSet(box.indices(uids: set, saved: savedSearch).map { box.messages[$0].uid })
            if restrict?.isEmpty == true { return .ok(code: nil, text: "Expunge completed.") }
        }
        let gone = try await store.expunge(in: box.id, uids: restrict)
        box.recordExpunged(gone)
        selected = box
        return .ok(code: nil, text: "Expunge completed.")
    }

    // MARK: SEARCH (RFC 9051 §6.4.4, RFC 4731 ESEARCH, RFC 5182 SEARCHRES)

    func search(_ command: SearchCommand, uid: Bool, tag: String) async throws -> Completion {
        let (program, matched) = try await matches(command)
        let numbers = matched.map { uid ? $0.uid : UInt32($0.seq) }
        let highestModSeq = matched.map(\.modSeq).max()

        // RFC 9051 §6.4.4: IMAP4rev2 always answers ESEARCH; IMAP4rev1 unless RETURN was absent.
        var options = command.returnOptions
        if options == nil && rev2 { options = [.all] }
        guard var options else {
            await send(.search(numbers, modSeq: program.usesModSeq && !numbers.isEmpty ? highestModSeq : nil))
            return .ok(code: nil, text: "Search completed.")
        }
        if options.contains(.save) {
            savedSearch = matched.map(\.uid)
            options.removeAll { $0 == .save }
            // RFC 5182 §2.4: SAVE alone produces no ESEARCH response.
            if options.isEmpty && command.returnOptions?.isEmpty == false { return .ok(code: nil, text: "Search completed.") }
        }
        if options.isEmpty { options = [.all] }
        // RFC 7162 §3.1.5: with only MIN and/or MAX, MODSEQ is that of the message(s) returned,
        // not of every match.
        var modSeq = highestModSeq
        if !options.contains(.all) && !options.contains(.count) {
            var returned: [UInt64] = []
            if options.contains(.min), let first = matched.first { returned.append(first.modSeq) }
            if options.contains(.max), let last = matched.last { returned.append(last.modSeq) }
            modSeq = returned.max()
        }
        await send(.esearch(ESearchResponse(
            tag: tag, uid: uid,
            min: options.contains(.min) ? numbers.min() : nil,
            max: options.contains(.max) ? numbers.max() : nil,
            count: options.contains(.count) ? UInt32(numbers.count) : nil,
            all: options.contains(.all) && !numbers.isEmpty ? SequenceSet(numbers: numbers) : nil,
            modSeq: program.usesModSeq ? modSeq : nil)))
        return .ok(code: nil, text: "Search completed.")
    }
}
