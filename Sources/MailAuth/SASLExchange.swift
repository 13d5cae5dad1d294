/// Drives one SASL exchange (RFC 4422) to its end for any protocol: the pure `SASLServer`
/// decides the mechanism's steps, `Authenticator` does the lookups, checks and bookkeeping.
/// A protocol only moves bytes: it sends `.challenge`, feeds the client's answer to
/// `respond`, and maps the final step to its own reply.
public struct SASLExchange: Sendable {
    public enum Step: Sendable, Equatable {
        /// Send this challenge (the protocol base64-encodes it) and feed the answer to `respond`.
        case challenge([UInt8])
        case authenticated(Account)
        /// Wrong credentials (already recorded against the client).
        case rejected
        /// The client cancelled with `*` (RFC 4422 §3.5).
        case aborted
        /// The client's message broke the mechanism's grammar; the reason is for the log.
        case malformed(String)
        /// Nothing was decided: a temporary failure (RFC 4954 `454 4.7.0`).
        case unavailable(String)
    }

    public let mechanism: SASLMechanismName
    let authenticator: Authenticator
    let client: String
    private var server: SASLServer
    /// The account a SCRAM or password step was about, until the mechanism's verdict.
    private var pendingAccount: Account?
    /// The login the client named, for the throttle's bookkeeping.
    private var attemptedLogin = ""
    private var failureRecorded = false
    private var successRecorded = false

    public init(mechanism: SASLMechanismName, authenticator: Authenticator, client: String) {
        self.mechanism = mechanism
        self.authenticator = authenticator
        self.client = client
        self.server = SASLServer(mechanism: mechanism, configuration: authenticator.configuration.sasl)
    }

    /// Begins with the decoded initial response (`nil` when the client sent none).
    public mutating func start(initialResponse: [UInt8]?) async -> Step {
        await drive(server.start(initialResponse: initialResponse))
    }

    /// The client's (decoded) answer to the last challenge.
    public mutating func respond(_ response: [UInt8]) async -> Step {
        await drive(server.receive(response))
    }

    /// What the client sent, for callers that carry the exchange across tasks.
    public enum Input: Sendable {
        case start([UInt8]?)
        case respond([UInt8])
    }

    public mutating func step(_ input: Input) async -> Step {
        switch input {
        case .start(let initial): await start(initialResponse: initial)
        case .respond(let response): await respond(response)
        }
    }

    /// One step on a copy, returned with its new state: for protocol drivers that run the
    /// step off their event loop and keep the exchange between lines.
    public static func advance(_ exchange: SASLExchange, _ input: Input) async -> (Step, SASLExchange) {
        var exchange = exchange
        let step = await exchange.step(input)
        return (step, exchange)
    }

    /// The client sent `*`.
    public mutating func cancel() -> Step {
        _ = server.abort()
        return .aborted
    }

    private mutating func drive(_ first: SASLAction) async -> Step {
        var action = first
        while true {
            switch action {
            case .challenge(let bytes):
                return .challenge(bytes)
            case .verifyPassword(let authcid, _, let password):
                attemptedLogin = authcid
                switch await authenticator.checkPassword(login: authcid, password: password, client: client) {
                case .authenticated(let account):
                    // checkPassword recorded the success already.
                    pendingAccount = account
                    successRecorded = true
                    action = server.passwordVerified(true)
                case .rejected:
                    failureRecorded = true
                    action = server.passwordVerified(false)
                case .unavailable(let why):
                    return .unavailable(why)
                }
            case .lookupSCRAM(let authcid, _):
                attemptedLogin = authcid
                await authenticator.waitForPenalty(client: client)
                if Task.isCancelled { return .unavailable("client gone") }
                do {
                    pendingAccount = try await authenticator.directory.account(login: authcid)
                } catch {
                    return .unavailable("directory lookup failed: \(error)")
                }
                action = server.scramCredentials(pendingAccount?.scram.flatMap(SCRAMCredentials.init(storageString:)))
            case .success(let authcid, _, _):
                // The mechanism vouches for authcid; the account must be the one we looked up.
                guard let account = pendingAccount, account.address.lowercased() == authcid.lowercased() else {
                    return await rejected()
                }
                if !successRecorded { await authenticator.throttle.recordSuccess(client: client, login: authcid) }
                return .authenticated(account)
            case .failure(.aborted):
                return .aborted
            case .failure(.malformed(let why)):
                return .malformed(why)
            case .failure:
                return await rejected()
            }
        }
    }

    private mutating func rejected() async -> Step {
        if !failureRecorded { await authenticator.throttle.recordFailure(client: client, login: attemptedLogin) }
        failureRecorded = true
        return .rejected
    }
}
