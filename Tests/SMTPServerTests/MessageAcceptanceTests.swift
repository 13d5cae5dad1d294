import Delivery
import Foundation
import GRDB
import Logging
import MailAuth
import MailQueue
import MailStore
import MailStoreSQLite
@testable import SMTPServer
import SMTPProtocol
import Testing

/// Acceptance writes two databases (the outbound queue, then the mailbox store). These tests
/// make one of the commits fail with an SQLite trigger, so the client gets 451 and retries, and
/// check that the retry completes the delivery without a second copy anywhere.
@Suite("Message acceptance: a retry after a partial commit")
struct MessageAcceptanceTests {
    final class Harness: Sendable {
        let directory: URL
        let storePath: String
        let queuePath: String
        let store: SQLiteMailStore
        let queue: OutboundQueue
        let services: SMTPServices
        let alice: Account
        let bob: Account

        init() async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-acceptance-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            storePath = directory.appendingPathComponent("swallow.sqlite").path
            queuePath = directory.appendingPathComponent("queue.sqlite").path
            let database = try SQLiteDatabase(path: storePath)
            let users = SQLiteDirectory(database)
            store = SQLiteMailStore(database)
            queue = try OutboundQueue(path: queuePath)
            try await users.addDomain("example.test")
            alice = try await users.addUser("alice@example.test", passwordHash: "x", scram: nil, quotaBytes: 0)
            bob = try await users.addUser("bob@example.test", passwordHash: "x", scram: nil, quotaBytes: 0)
            services = SMTPServices(authenticator: Authenticator(directory: users), store: store,
                                    localDelivery: LocalDeliveryAgent(committer: GroupCommitter(store: store)),
                                    queue: queue, logger: Logger(label: "test"))
        }

        deinit { try? FileManager.default.removeItem(at: directory) }

        /// Runs `sql` on its own connection to the database file (a trigger that makes writes fail).
        func execute(_ sql: String, on path: String) throws {
            let connection = try DatabaseQueue(path: path)
            try connection.write { try $0.execute(sql: sql) }
        }

        /// A fresh transaction (new queue ID) from the same client with the same envelope.
        func transaction(local: [Account], remote: [String] = []) -> SMTPSession.Transaction {
            var t = SMTPSession.Transaction(queueID: QueueID.make(), sender: "sender@outside.test", parameters: MailParameters())
            for account in local {
                t.recipients.append(.init(address: account.address, parameters: RcptParameters(), accounts: [account], remote: []))
            }
            for address in remote {
                t.recipients.append(.init(address: address, parameters: RcptParameters(), accounts: [], remote: [address]))
            }
            return t
        }

        func accept(_ t: SMTPSession.Transaction) async -> [Int] {
            let received = Array("Received: from client ([192.0.2.1]) by mx.example.test id \(t.queueID)\r\n".utf8)
            let replies = await MessageAcceptance.accept(Self.message, received: received, transaction: t, services: services,
                                                         lmtp: false, logger: Logger(label: "test"))
            return replies.map(\.code)
        }

        /// Copies in each account's INBOX and entries in the queue.
        func counts(_ accounts: [Account]) async throws -> [Int] {
            var result: [Int] = []
            for account in accounts { result.append(try await store.mailbox(account.id, named: "INBOX").messageCount) }
            return result + [try await queue.list().count]
        }

        static let message = Array("From: <sender@outside.test>\r\nSubject: once\r\nMessage-ID: <once@outside.test>\r\n\r\nhello\r\n".utf8)
    }

    /// A failure injected into one of the commits, and how it is lifted.
    enum Failure {
        /// Every store write of a message fails (after the queue committed).
        case storeWrite
        /// The queue write fails (the store commits after it anyway).
        case queueWrite
        /// Bob's mailbox is full: his copy fails, Alice's is stored in the same transaction.
        case bobOverQuota

        func set(_ on: Bool, _ h: Harness) throws {
            switch self {
            case .storeWrite:
                try h.execute(on ? "CREATE TRIGGER fail BEFORE INSERT ON message BEGIN SELECT RAISE(ABORT, 'injected'); END"
                                 : "DROP TRIGGER fail", on: h.storePath)
            case .queueWrite:
                try h.execute(on ? "CREATE TRIGGER fail BEFORE INSERT ON queue_message BEGIN SELECT RAISE(ABORT, 'injected'); END"
                                 : "DROP TRIGGER fail", on: h.queuePath)
            case .bobOverQuota:
                try h.execute("UPDATE account SET quota_bytes = \(on ? 10 : 0) WHERE id = \(h.bob.id.rawValue)", on: h.storePath)
            }
        }
    }

    /// Sends the same transaction `failing` times with `failure` injected, then once without;
    /// returns the reply codes.
    func retry(_ h: Harness, after failure: Failure, failing: Int = 1, local: [Account], remote: [String] = []) async throws -> [Int] {
        var codes: [Int] = []
        try failure.set(true, h)
        for _ in 0..<failing { codes += await h.accept(h.transaction(local: local, remote: remote)) }
        try failure.set(false, h)
        return codes + (await h.accept(h.transaction(local: local, remote: remote)))
    }

    @Test func queueCommittedStoreFailedRetryQueuesOnce() async throws {
        let h = try await Harness()
        #expect(try await retry(h, after: .storeWrite, local: [h.alice], remote: ["carol@remote.test"]) == [451, 250])
        let counts = try await h.counts([h.alice])
        #expect(counts == [1, 1])
    }

    @Test func storeCommittedQueueFailedRetryDeliversOnce() async throws {
        let h = try await Harness()
        #expect(try await retry(h, after: .queueWrite, local: [h.alice], remote: ["carol@remote.test"]) == [451, 250])
        let counts = try await h.counts([h.alice])
        #expect(counts == [1, 1])
    }

    /// One account's failure (a full mailbox) fails only its own copy in the store's delivery
    /// transaction; with several accounts SMTP can only answer 451 for all of them.
    @Test func oneAccountFailedRetryDeliversEachOnce() async throws {
        let h = try await Harness()
        #expect(try await retry(h, after: .bobOverQuota, local: [h.alice, h.bob]) == [451, 250])
        let counts = try await h.counts([h.alice, h.bob])
        #expect(counts == [1, 1, 0])
    }

    @Test func aRetryThatFailsAgainStillSkipsWhatIsDone() async throws {
        let h = try await Harness()
        #expect(try await retry(h, after: .storeWrite, failing: 2, local: [h.alice], remote: ["carol@remote.test"]) == [451, 451, 250])
        let counts = try await h.counts([h.alice])
        #expect(counts == [1, 1])
    }

    /// A retry that completed leaves a complete record: the same bytes sent after it are new.
    @Test func afterACompletedRetryTheSameBytesAreANewMessage() async throws {
        let h = try await Harness()
        #expect(try await retry(h, after: .queueWrite, local: [h.alice, h.bob], remote: ["carol@remote.test"]) == [451, 250])
        #expect(await h.accept(h.transaction(local: [h.alice, h.bob], remote: ["carol@remote.test"])) == [250])
        let counts = try await h.counts([h.alice, h.bob])
        #expect(counts == [2, 2, 2])
    }

    /// The same bytes sent again after a complete acceptance are a new message (a monitoring
    /// probe, a resend), not a retry: they must not be dropped.
    @Test func anIdenticalMessageAfterSuccessIsDeliveredAgain() async throws {
        let h = try await Harness()
        #expect(await h.accept(h.transaction(local: [h.alice, h.bob], remote: ["carol@remote.test"])) == [250])
        #expect(await h.accept(h.transaction(local: [h.alice, h.bob], remote: ["carol@remote.test"])) == [250])
        let counts = try await h.counts([h.alice, h.bob])
        #expect(counts == [2, 2, 2])
    }
}
