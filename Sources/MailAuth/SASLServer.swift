/// One server-side SASL exchange (RFC 4422 §3) as a pure state machine: the protocol layer
/// feeds it what the client sent and performs the `SASLAction` it returns. No I/O, no async,
/// no clock; a value type, so a session can keep it in its own state (DESIGN.md §5 item 4).
///
/// A typical exchange:
///
///     var sasl = SASLServer(mechanism: .plain)
///     var action = sasl.start(initialResponse: decodedInitialResponse)   // nil if none
///     loop: switch action {
///       case .challenge(let bytes): send base64(bytes); action = sasl.receive(decode(next line))
///                                   (or sasl.abort() if the client sent "*")
///       case .verifyPassword(...):  action = sasl.passwordVerified(PasswordHash.verify(...))
///       case .lookupSCRAM(...):     action = sasl.scramCredentials(try await directory.scram(...))
///       case .success, .failure:    done
///     }
///
/// After `success` or `failure` the exchange is over; any further event yields
/// `failure(.invalidState)`.
public struct SASLServer: Sendable {
    /// Behaviour that differs between deployments and tests.
    public struct Configuration: Sendable {
        /// Who may be named as authorization identity. Default: `.mustMatchAuthcid`.
        public var authzidPolicy: SASLAuthzidPolicy
        /// How SCRAM's server-final-message is delivered. Default: `.challenge`.
        public var finalDataDelivery: SASLFinalDataDelivery
        /// Makes the server part of a SCRAM nonce (RFC 5802 §5.1 "r="): printable ASCII except
        /// ",". Default: 24 random bytes, base64 (as Dovecot). Tests inject a fixed value to
        /// reproduce the RFC 7677 §3 exchange.
        public var scramNonce: @Sendable () -> String
        /// Key for the fake SCRAM credentials of unknown users. They are derived from it and the
        /// user name, so asking twice about one unknown user gives the same salt, as a real user
        /// would, and the exchange does not reveal which users exist. Default: 32 random bytes
        /// per process; give every node of a cluster the same persistent secret to make the
        /// answers agree across nodes and restarts too.
        public var unknownUserSecret: [UInt8]
        /// Iteration count announced for unknown users: set it to what real users have.
        /// Default: `SCRAMCredentials.defaultIterations`.
        public var unknownUserIterations: Int

        public init(
            authzidPolicy: SASLAuthzidPolicy = .mustMatchAuthcid,
            finalDataDelivery: SASLFinalDataDelivery = .challenge,
            scramNonce: (@Sendable () -> String)? = nil,
            unknownUserSecret: [UInt8]? = nil,
            unknownUserIterations: Int = SCRAMCredentials.defaultIterations
        ) {
            self.authzidPolicy = authzidPolicy
            self.finalDataDelivery = finalDataDelivery
            self.scramNonce = scramNonce ?? SASLServer.randomNonce
            self.unknownUserSecret = unknownUserSecret ?? SASLServer.processSecret
            self.unknownUserIterations = unknownUserIterations
        }
    }

    /// Bytes of randomness in a generated SCRAM server nonce (192 bits, as Dovecot).
    public static let scramNonceRandomBytes = 24

    /// The default `Configuration.scramNonce`: 24 random bytes in base64, which contains no ","
    /// and only printable ASCII, as RFC 5802 §7 "printable" requires.
    @Sendable public static func randomNonce() -> String {
        base64Encode(randomBytes(scramNonceRandomBytes))
    }

    /// Size of the default unknown-user secret: a full HMAC-SHA-256 key.
    public static let unknownUserSecretBytes = 32

    /// The default `Configuration.unknownUserSecret`, made once per process.
    static let processSecret: [UInt8] = randomBytes(unknownUserSecretBytes)

    public let mechanism: SASLMechanismName
    private var machine: any SASLMechanismMachine
    private var phase: Phase = .notStarted

    private enum Phase {
        case notStarted, running, finished
    }

    public init(mechanism: SASLMechanismName, configuration: Configuration = Configuration()) {
        self.mechanism = mechanism
        switch mechanism {
        case .plain: machine = PlainMachine(policy: configuration.authzidPolicy)
        case .login: machine = LoginMachine()
        case .scramSHA256: machine = SCRAMServerMachine(configuration: configuration)
        }
    }

    /// Whether the exchange has ended (after `success` or `failure`).
    public var isFinished: Bool { phase == .finished }

    /// Begins the exchange. `initialResponse` is the decoded initial response (RFC 4422 §4
    /// item 4, SMTP's `AUTH PLAIN <base64>`, IMAP's SASL-IR), or `nil` when the client sent
    /// none. An empty initial response (`=`) is treated like none: the machine answers with
    /// its first challenge, which for PLAIN and SCRAM is empty.
    public mutating func start(initialResponse: [UInt8]?) -> SASLAction {
        guard phase == .notStarted else { return finish(.failure(.invalidState)) }
        phase = .running
        let initial = initialResponse.flatMap { $0.isEmpty ? nil : $0 }
        if let initial, initial.count > SASLLimits.maxMessageBytes {
            return finish(.failure(.malformed("initial response longer than \(SASLLimits.maxMessageBytes) bytes")))
        }
        return finish(machine.start(initialResponse: initial))
    }

    /// Feeds the client's (decoded) response to the last challenge.
    public mutating func receive(_ response: [UInt8]) -> SASLAction {
        guard phase == .running else { return finish(.failure(.invalidState)) }
        if response.count > SASLLimits.maxMessageBytes {
            return finish(.failure(.malformed("response longer than \(SASLLimits.maxMessageBytes) bytes")))
        }
        return finish(machine.receive(response))
    }

    /// The answer to `verifyPassword`: whether the password matched (`false` also for an
    /// unknown user).
    public mutating func passwordVerified(_ ok: Bool) -> SASLAction {
        guard phase == .running else { return finish(.failure(.invalidState)) }
        return finish(machine.passwordVerified(ok))
    }

    /// The answer to `lookupSCRAM`: the user's credentials, or `nil` if there is no such user.
    public mutating func scramCredentials(_ credentials: SCRAMCredentials?) -> SASLAction {
        guard phase == .running else { return finish(.failure(.invalidState)) }
        return finish(machine.scramCredentials(credentials))
    }

    /// The client cancelled with `*` (RFC 4422 §3.5, RFC 4954 §4, RFC 9051 §6.2.2).
    public mutating func abort() -> SASLAction {
        guard phase == .running else { return finish(.failure(.invalidState)) }
        return finish(.failure(.aborted))
    }

    private mutating func finish(_ action: SASLAction) -> SASLAction {
        switch action {
        case .success, .failure: phase = .finished
        case .challenge, .verifyPassword, .lookupSCRAM: break
        }
        return action
    }
}

/// The events every mechanism may receive; a mechanism that does not expect one answers
/// `invalidState`.
protocol SASLMechanismMachine: Sendable {
    mutating func start(initialResponse: [UInt8]?) -> SASLAction
    mutating func receive(_ response: [UInt8]) -> SASLAction
    mutating func passwordVerified(_ ok: Bool) -> SASLAction
    mutating func scramCredentials(_ credentials: SCRAMCredentials?) -> SASLAction
}

extension SASLMechanismMachine {
    mutating func passwordVerified(_ ok: Bool) -> SASLAction { .failure(.invalidState) }
    mutating func scramCredentials(_ credentials: SCRAMCredentials?) -> SASLAction { .failure(.invalidState) }
}

/// Applies the authorization policy: `nil` when `authzid` is acceptable.
func authzidFailure(_ authzid: String?, authcid: String, policy: SASLAuthzidPolicy) -> SASLFailure? {
    guard let authzid else { return nil }
    switch policy {
    case .delegateToCaller: return nil
    case .mustMatchAuthcid: return authzid == authcid ? nil : .authzidNotPermitted
    }
}

/// Validates a password as sent by PLAIN or LOGIN.
func validatedPassword<C: Collection<UInt8>>(_ bytes: C) -> Result<String, SASLFailure> {
    if bytes.isEmpty { return .failure(.malformed("empty password")) }
    if bytes.count > SASLLimits.maxPasswordBytes {
        return .failure(.malformed("password longer than \(SASLLimits.maxPasswordBytes) bytes"))
    }
    if bytes.contains(0) { return .failure(.malformed("NUL in password")) }
    guard let password = bytes.strictUTF8String else { return .failure(.malformed("password is not UTF-8")) }
    return .success(password)
}

/// Validates an authcid or authzid.
func validatedIdentity<C: Collection<UInt8>>(_ bytes: C, what: String) -> Result<String, SASLFailure> {
    if bytes.count > SASLLimits.maxIdentityBytes {
        return .failure(.malformed("\(what) longer than \(SASLLimits.maxIdentityBytes) bytes"))
    }
    guard let identity = bytes.strictUTF8String else { return .failure(.malformed("\(what) is not UTF-8")) }
    guard isAcceptableIdentity(identity) else { return .failure(.malformed("\(what) is empty or has control characters")) }
    return .success(identity)
}
