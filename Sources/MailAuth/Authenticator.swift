/// The one place that decides a login, for every protocol (SMTP AUTH, IMAP LOGIN and
/// AUTHENTICATE, POP3 USER/PASS and AUTH, ManageSieve): directory lookup, the throttle's delay,
/// the password check (bounded in concurrency and queue length), and the bookkeeping of failures.
///
/// A directory or database failure, or a full hashing queue, is `.unavailable`: the protocol
/// answers with a temporary failure (`454 4.7.0`, `NO [UNAVAILABLE]`, `-ERR [SYS/TEMP]`), and
/// it is neither reported as a wrong password nor counted against the client's address.
public struct Authenticator: Sendable {
    public struct Configuration: Sendable {
        /// Failed logins on one connection before it is closed (Postfix's
        /// smtpd_hard_error_limit is coarser; Dovecot disconnects after a few failures too).
        public var maxFailuresPerConnection = 3
        /// SASL behaviour (SCRAM nonce, unknown-user answers, ...).
        public var sasl = SASLServer.Configuration()
        public init() {}
    }

    public enum Outcome: Sendable, Equatable {
        case authenticated(Account)
        /// Unknown login or wrong password (never said which); the failure is recorded.
        case rejected
        /// Nothing was decided: try again later. The reason is for the log.
        case unavailable(String)
    }

    public let directory: any UserDirectory
    public let throttle: AuthThrottle
    public let verifier: PasswordVerifier
    public let configuration: Configuration

    public init(directory: any UserDirectory, throttle: AuthThrottle = AuthThrottle(),
                verifier: PasswordVerifier = PasswordVerifier(), configuration: Configuration = Configuration()) {
        self.directory = directory
        self.throttle = throttle
        self.verifier = verifier
        self.configuration = configuration
    }

    /// A login with a password (IMAP LOGIN, POP3 USER/PASS, SASL PLAIN and LOGIN).
    ///
    /// The client's penalty is served before the hash is computed, so that a guesser pays it
    /// before costing us CPU.
    public func checkPassword(login: String, password: String, client: String) async -> Outcome {
        await waitForPenalty(client: client)
        // The client left while it waited: no hash for nobody.
        if Task.isCancelled { return .unavailable("client gone") }
        let account: Account?
        do {
            account = try await directory.account(login: login)
        } catch {
            return .unavailable("directory lookup failed: \(error)")
        }
        guard let ok = await verifier.verify(password, account: account) else {
            return .unavailable("too many password checks waiting")
        }
        guard ok, let account else {
            await throttle.recordFailure(client: client, login: login)
            return .rejected
        }
        await throttle.recordSuccess(client: client, login: login)
        return .authenticated(account)
    }

    /// The client's current penalty, served as a delay (DESIGN.md §4 auth failures per IP).
    func waitForPenalty(client: String) async {
        let delay = await throttle.delayBeforeAttempt(for: client)
        if delay > .zero { try? await Task.sleep(for: delay) }
    }
}
