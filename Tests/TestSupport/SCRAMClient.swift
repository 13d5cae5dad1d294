import Crypto
import MailAuth

/// Why a `SCRAMClient` exchange failed.
public enum SCRAMClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server's message does not follow RFC 5802 §7.
    case malformedServerMessage(String)
    /// The server's nonce does not extend ours (RFC 5802 §5.1 "r=").
    case nonceMismatch
    /// The iteration count is below our minimum (a downgrade) or absurdly high (a stall).
    case iterationCountOutOfRange(Int)
    /// The server answered `e=` (RFC 5802 §7 server-error).
    case serverError(String)
    /// The server could not prove it knows our ServerKey: it is not who we think it is.
    case serverSignatureMismatch
    /// A method was called out of order.
    case invalidState

    public var description: String {
        switch self {
        case .malformedServerMessage(let reason): return "malformed SCRAM server message: \(reason)"
        case .nonceMismatch: return "SCRAM server nonce does not extend the client nonce"
        case .iterationCountOutOfRange(let count): return "SCRAM iteration count \(count) out of range"
        case .serverError(let error): return "SCRAM server error: \(error)"
        case .serverSignatureMismatch: return "SCRAM server signature mismatch"
        case .invalidState: return "SCRAM client method called out of order"
        }
    }
}

/// The client side of SCRAM-SHA-256 (RFC 7677, RFC 5802 §5) without channel binding, for tests
/// (the servers' SCRAM is exercised against it and against real clients). A pure state machine like
/// `SASLServer`; the caller does base64 and I/O.
///
///     var client = SCRAMClient(username: "user", password: "pencil")
///     send(client.clientFirstMessage())
///     send(try client.clientFinalMessage(serverFirst: receive()))
///     try client.verifyServerFinal(receive())      // only now is the server authenticated
public struct SCRAMClient: Sendable {
    private enum State {
        case initial
        case sentClientFirst(gs2Header: [UInt8], bare: [UInt8])
        case sentClientFinal(expectedServerSignature: [UInt8])
        case done
    }

    public let username: String
    public let authzid: String?
    private let password: String
    private let clientNonce: String
    private let minimumIterations: Int
    private var state: State = .initial

    /// - Parameters:
    ///   - username: sent as is (escaped); SCRAM's optional SASLprep of user names is not
    ///     applied, since mail account names are addresses and a server compares them verbatim.
    ///   - nonce: the client nonce (printable ASCII without ","); `nil` for 24 random bytes in
    ///     base64. Tests pass RFC 7677's.
    ///   - minimumIterations: refuse servers that ask for fewer iterations; RFC 7677 §4 says
    ///     4096 at least.
    public init(
        username: String, password: String, authzid: String? = nil, nonce: String? = nil,
        minimumIterations: Int = SCRAMCredentials.rfcMinimumIterations
    ) {
        self.username = username
        self.password = password
        self.authzid = authzid
        self.clientNonce = nonce ?? SASLServer.randomNonce()
        self.minimumIterations = minimumIterations
        precondition(
            SCRAM.isValidNonce(Array(clientNonce.utf8), limit: SASLLimits.maxClientNonceBytes),
            "invalid SCRAM client nonce")
    }

    /// client-first-message = gs2-header client-first-message-bare   ; RFC 5802 §7
    public mutating func clientFirstMessage() -> [UInt8] {
        // "n": we do not support channel binding (RFC 5802 §6).
        let gs2Header = Array("n,\(authzid.map { "a=" + SCRAM.encodeSASLName($0) } ?? ""),".utf8)
        let bare = Array("n=\(SCRAM.encodeSASLName(username)),r=\(clientNonce)".utf8)
        state = .sentClientFirst(gs2Header: gs2Header, bare: bare)
        return gs2Header + bare
    }

    /// Checks the server-first-message and computes the client-final-message with the proof.
    public mutating func clientFinalMessage(serverFirst: [UInt8]) throws(SCRAMClientError) -> [UInt8] {
        guard case .sentClientFirst(let gs2Header, let bare) = state else { throw .invalidState }
        state = .done
        let parsed: SCRAM.ServerFirst
        switch SCRAM.parseServerFirst(serverFirst) {
        case .success(let value): parsed = value
        case .failure(let error): throw error
        }
        let ourNonce = Array(clientNonce.utf8)
        // The server must append its own part (RFC 5802 §5.1 "r="); a nonce that is merely ours
        // would let a recorded exchange be replayed.
        guard parsed.nonce.count > ourNonce.count, parsed.nonce.starts(with: ourNonce) else { throw .nonceMismatch }
        guard parsed.iterations >= minimumIterations, parsed.iterations <= SCRAMCredentials.maximumIterations else {
            throw .iterationCountOutOfRange(parsed.iterations)
        }
        let salted = SCRAMCredentials.saltedPassword(password, salt: parsed.salt, iterations: parsed.iterations)
        let clientKey = hmac(key: salted, "Client Key".utf8)
        let storedKey = Array(SHA256.hash(data: clientKey))
        let serverKey = hmac(key: salted, "Server Key".utf8)
        let withoutProof = Array("c=\(base64Encode(gs2Header)),r=".utf8) + parsed.nonce
        let authMessage = SCRAM.authMessage(
            clientFirstBare: bare, serverFirst: serverFirst, clientFinalWithoutProof: withoutProof)
        let clientSignature = hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        state = .sentClientFinal(expectedServerSignature: hmac(key: serverKey, authMessage))
        return withoutProof + Array(",p=\(base64Encode(proof))".utf8)
    }

    /// Checks the server-final-message: `v=` must carry HMAC(ServerKey, AuthMessage). Only after
    /// this succeeds has the server proved it holds our credentials (RFC 5802 §5).
    public mutating func verifyServerFinal(_ message: [UInt8]) throws(SCRAMClientError) {
        guard case .sentClientFinal(let expected) = state else { throw .invalidState }
        state = .done
        if let failure = SCRAM.checkMessage(message) { throw .malformedServerMessage(failure.description) }
        let fields = SCRAM.fields(message[...])
        guard let first = fields.first else { throw .malformedServerMessage("empty") }
        if let error = SCRAM.value(of: first, "e") {
            throw .serverError(String(decoding: error, as: UTF8.self))
        }
        guard let raw = SCRAM.value(of: first, "v"), let signature = base64Decode(raw) else {
            throw .malformedServerMessage("missing or bad v= verifier")
        }
        guard constantTimeEquals(signature, expected) else { throw .serverSignatureMismatch }
        state = .done
    }
}

/// Keeps the password out of logs and `dump`.
extension SCRAMClient: CustomStringConvertible, CustomReflectable {
    public var description: String { "SCRAMClient(username: \(username), authzid: \(authzid ?? "-"))" }
    public var customMirror: Mirror { Mirror(self, children: ["username": username, "authzid": authzid as Any]) }
}

extension SCRAM {
    /// The server's first message, parsed (client side).
    struct ServerFirst: Sendable {
        var nonce: [UInt8]
        var salt: [UInt8]
        var iterations: Int
    }

    /// server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
    /// salt            = "s=" base64
    /// iteration-count = "i=" posit-number
    static func parseServerFirst(_ message: [UInt8]) -> Result<ServerFirst, SCRAMClientError> {
        if let failure = checkMessage(message) { return .failure(.malformedServerMessage(failure.description)) }
        var parts = fields(message[...])[...]
        if let first = parts.first, value(of: first, "m") != nil {
            return .failure(.malformedServerMessage("unsupported mandatory extension"))
        }
        guard let nonceField = parts.popFirst(), let nonce = value(of: nonceField, "r"),
            isValidNonce(nonce, limit: SASLLimits.maxMessageBytes)
        else { return .failure(.malformedServerMessage("missing or bad r= nonce")) }
        guard let saltField = parts.popFirst(), let rawSalt = value(of: saltField, "s"),
            let salt = base64Decode(rawSalt), !salt.isEmpty, salt.count <= SCRAMCredentials.maximumSaltBytes
        else { return .failure(.malformedServerMessage("missing or bad s= salt")) }
        // posit-number = %x31-39 *DIGIT; more than 9 digits is out of range anyway.
        guard let countField = parts.popFirst(), let rawCount = value(of: countField, "i"),
            (1...9).contains(rawCount.count), rawCount.first != UInt8(ascii: "0"),
            rawCount.allSatisfy({ (0x30...0x39).contains($0) }),
            let iterations = Int(String(decoding: rawCount, as: UTF8.self))
        else { return .failure(.malformedServerMessage("missing or bad i= iteration count")) }
        guard parts.allSatisfy(isExtension) else { return .failure(.malformedServerMessage("bad attribute")) }
        return .success(ServerFirst(nonce: Array(nonce), salt: salt, iterations: iterations))
    }

}
