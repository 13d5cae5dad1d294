import Synchronization
import Testing

@testable import MailAuth

/// The one login decision every protocol uses: lookups, the throttle's delay before the hash,
/// failures recorded, temporary failures kept apart from wrong passwords.
@Suite("Authenticator and SASL exchange")
struct AuthenticatorTests {
    static let password = "correct horse"
    static let alice = Account(id: UserID(1), address: "alice@example.test",
                               passwordHash: (try? PasswordHash.make(password, scheme: .sha512crypt)) ?? "",
                               scram: SCRAMCredentials.derive(password: password, iterations: 4096).storageString, quotaBytes: 0)

    /// One account, or a database that is down.
    struct Directory: UserDirectory {
        var down = false
        func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool { true }
        func listDomains() async throws(DirectoryError) -> [String] { ["example.test"] }
        func account(login: String) async throws(DirectoryError) -> Account? {
            if down { throw .temporary("database is down") }
            return login.lowercased() == alice.address ? alice : nil
        }
        func account(id: UserID) async throws(DirectoryError) -> Account? { nil }
        func resolve(recipient address: String) async throws(DirectoryError) -> RecipientResolution { .notLocal }
        func mayUseSender(_ sender: String, account: Account) async throws(DirectoryError) -> Bool { false }
    }

    static func authenticator(down: Bool = false, baseDelay: Duration = .milliseconds(1)) -> Authenticator {
        Authenticator(directory: Directory(down: down), throttle: AuthThrottle(configuration: .init(baseDelay: baseDelay)))
    }

    @Test func rightAndWrongPasswords() async {
        let auth = Self.authenticator()
        #expect(await auth.checkPassword(login: "alice@example.test", password: Self.password, client: "192.0.2.1")
                == .authenticated(Self.alice))
        #expect(await auth.checkPassword(login: "alice@example.test", password: "nope", client: "192.0.2.1") == .rejected)
        #expect(await auth.checkPassword(login: "ghost@example.test", password: "nope", client: "192.0.2.1") == .rejected)
        #expect(await auth.throttle.failureCount(for: "192.0.2.1") == 2)
    }

    /// The audit: a database failure must not read as a wrong password, nor cost the client.
    @Test func directoryFailureIsUnavailableAndNotCounted() async {
        let auth = Self.authenticator(down: true)
        for _ in 0..<5 {
            guard case .unavailable = await auth.checkPassword(login: "alice@example.test", password: Self.password, client: "192.0.2.2") else {
                Issue.record("a database failure reported as something else")
                return
            }
        }
        #expect(await auth.throttle.failureCount(for: "192.0.2.2") == 0)
        var exchange = SASLExchange(mechanism: .scramSHA256, authenticator: auth, client: "192.0.2.2")
        _ = await exchange.start(initialResponse: nil)
        guard case .unavailable = await exchange.respond(Array("n,,n=alice@example.test,r=abcdef".utf8)) else {
            Issue.record("SCRAM lookup failure not reported as unavailable")
            return
        }
        #expect(await auth.throttle.failureCount(for: "192.0.2.2") == 0)
    }

    /// The audit: the penalty is served before the password is hashed, not only before the reply.
    @Test func penaltyIsServedBeforeHashing() async {
        let auth = Self.authenticator(baseDelay: .milliseconds(300))
        await auth.throttle.recordFailure(client: "192.0.2.3", login: "alice@example.test")
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await auth.checkPassword(login: "alice@example.test", password: Self.password, client: "192.0.2.3")
                == .authenticated(Self.alice))
        #expect(clock.now - start >= .milliseconds(300))
    }

    @Test func saslPlainAndScram() async {
        let auth = Self.authenticator()
        var plain = SASLExchange(mechanism: .plain, authenticator: auth, client: "192.0.2.4")
        #expect(await plain.start(initialResponse: Array("\0alice@example.test\0\(Self.password)".utf8)) == .authenticated(Self.alice))
        var wrong = SASLExchange(mechanism: .plain, authenticator: auth, client: "192.0.2.4")
        #expect(await wrong.start(initialResponse: Array("\0alice@example.test\0nope".utf8)) == .rejected)
        #expect(await auth.throttle.failureCount(for: "192.0.2.4") == 1, "one failure, recorded once")

        var client = SCRAMClient(username: "alice@example.test", password: Self.password)
        var scram = SASLExchange(mechanism: .scramSHA256, authenticator: auth, client: "192.0.2.5")
        guard case .challenge(let empty) = await scram.start(initialResponse: nil), empty.isEmpty,
              case .challenge(let serverFirst) = await scram.respond(client.clientFirstMessage()),
              let final = try? client.clientFinalMessage(serverFirst: serverFirst),
              case .challenge(let serverFinal) = await scram.respond(final) else {
            Issue.record("SCRAM exchange broke off")
            return
        }
        #expect((try? client.verifyServerFinal(serverFinal)) != nil)
        #expect(await scram.respond([]) == .authenticated(Self.alice))
        var cancelled = SASLExchange(mechanism: .login, authenticator: auth, client: "192.0.2.6")
        _ = await cancelled.start(initialResponse: nil)
        #expect(cancelled.cancel() == .aborted)
    }

    /// Hashing runs on a bounded pool: past its queue, checks are refused at once.
    @Test func verifierQueueIsBounded() async {
        let verifier = PasswordVerifier(configuration: .init(maxConcurrent: 1, maxQueued: 2))
        let results = await withTaskGroup(of: Bool?.self) { group in
            for _ in 0..<12 { group.addTask { await verifier.verify(Self.password, account: Self.alice) } }
            return await group.reduce(into: [Bool?]()) { $0.append($1) }
        }
        #expect(results.contains(nil), "no check was refused with a queue of 2")
        #expect(results.contains(true))
        #expect(verifier.load == (0, 0))
    }
}
