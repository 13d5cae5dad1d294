/// The limits and deadlines the connection core enforces for one listener (DESIGN.md §4
/// "Bounded everything"). Each protocol fills it from its own configuration.
public struct ConnectionPolicy: Sendable {
    /// Inactivity allowed between client commands once logged in (or on a listener without
    /// login); the protocol's RFC sets a floor (SMTP 5 min, POP3 10 min, IMAP 30 min).
    public var idleTimeout: Duration
    /// Absolute time from accept to a successful login on listeners that need one; the
    /// connection is closed when it passes, active or not (slow-drip clients included).
    /// `nil`: no login phase (SMTP on port 25, LMTP).
    public var loginTimeout: Duration?
    /// How long output may stay blocked (the client does not read) before the connection is
    /// closed: without it a client that never reads would pin its responses in memory.
    public var outputStallTimeout: Duration
    /// Bytes of pipelined input held while a command runs or output drains before reading
    /// from the socket stops (back-pressure).
    public var maxBufferedInput: Int
    /// Whether the connection starts with TLS (implicit TLS listeners).
    public var implicitTLS: Bool

    public init(idleTimeout: Duration, loginTimeout: Duration? = nil, outputStallTimeout: Duration = .seconds(120),
                maxBufferedInput: Int = 1 << 20, implicitTLS: Bool = false) {
        self.idleTimeout = idleTimeout
        self.loginTimeout = loginTimeout
        self.outputStallTimeout = outputStallTimeout
        self.maxBufferedInput = maxBufferedInput
        self.implicitTLS = implicitTLS
    }
}

/// Why the core closes a connection on its own; the protocol words its farewell for each.
public enum ConnectionCloseReason: Sendable, Equatable {
    /// The client already has the most connections allowed from one address.
    case tooManyFromClient
    /// The server has the most connections it allows in total.
    case tooManyInTotal
    case idleTimeout
    /// The login deadline passed before a successful login.
    case loginTimeout
    /// The client stopped reading our output.
    case outputStalled
    /// The server is shutting down (after the command in progress finished).
    case shuttingDown
}
