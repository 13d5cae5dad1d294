/// The SASL mechanisms Swallow's servers offer (RFC 4422).
///
/// SCRAM-SHA-256-PLUS (channel binding) is not offered: see `SASLFailure.channelBindingNotSupported`.
public enum SASLMechanismName: String, Sendable, CaseIterable {
    /// RFC 4616.
    case plain = "PLAIN"
    /// draft-murchison-sasl-login: obsolete, but Outlook and many devices still only speak it.
    case login = "LOGIN"
    /// RFC 7677 (SCRAM, RFC 5802, with SHA-256).
    case scramSHA256 = "SCRAM-SHA-256"

    /// Looks a mechanism up by the name a client sent; RFC 4422 §3.1 mechanism names are
    /// case-insensitive on the wire even though they are registered in upper case.
    public init?(caseInsensitive name: some StringProtocol) {
        self.init(rawValue: name.uppercased())
    }

    /// Whether the mechanism sends the password itself over the connection, so that it must only
    /// be offered under TLS unless the administrator opted in (DESIGN.md §4).
    public var sendsPlaintextPassword: Bool {
        switch self {
        case .plain, .login: return true
        case .scramSHA256: return false
        }
    }
}

/// What a SASL exchange asks the protocol layer to do next. The protocol layer does the
/// base64 (RFC 4954 §4, RFC 9051 §6.2.2) and the I/O; the machine never blocks.
public enum SASLAction: Sendable, Equatable {
    /// Send this challenge (possibly empty) and feed the client's next response to `receive(_:)`.
    case challenge([UInt8])
    /// Check `password` against the stored hash of `authcid` (e.g. with `PasswordHash.verify`,
    /// off the event loop), then call `passwordVerified(_:)`. An unknown user is `false`.
    case verifyPassword(authcid: String, authzid: String?, password: String)
    /// Fetch the SCRAM credentials of `authcid` and call `scramCredentials(_:)`; pass `nil` for
    /// an unknown user (the exchange then fails exactly like a wrong password).
    case lookupSCRAM(authcid: String, authzid: String?)
    /// Authenticated. `additionalData` is present only when the mechanism has final data and the
    /// server is configured to send it with the success reply (RFC 4422 §4 item 6c).
    case success(authcid: String, authzid: String?, additionalData: [UInt8]?)
    /// The exchange is over and failed.
    case failure(SASLFailure)
}

/// Why a SASL exchange failed. Each case maps to one protocol reply: e.g. SMTP (RFC 4954 §6)
/// `501 5.5.2` for `malformed` and `aborted`, `535 5.7.8` for `authenticationFailed`,
/// `504 5.5.4` for `mechanismUnsupported`; IMAP `BAD` for the first two and `NO` otherwise.
public enum SASLFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The client's message does not follow the mechanism's grammar; the reason is for logs.
    case malformed(String)
    /// Wrong password, unknown user or wrong SCRAM proof: the client is never told which.
    case authenticationFailed
    /// The client asked to act as another identity (authzid) and that is not allowed.
    case authzidNotPermitted
    /// The client cancelled the exchange with `*` (RFC 4422 §3.5, RFC 4954 §4).
    case aborted
    /// The client named a mechanism we do not offer (for the protocol layer's use).
    case mechanismUnsupported
    /// A SCRAM client asked for channel binding (`p=`); we do not offer the -PLUS mechanisms
    /// (RFC 5802 §6), so such a client has to retry without it.
    case channelBindingNotSupported
    /// A mandatory SCRAM extension (`m=`) we do not know (RFC 5802 §5.1).
    case extensionNotSupported
    /// The caller fed an event the exchange was not waiting for (e.g. a response after the
    /// exchange ended): a bug in the protocol layer, reported rather than trapped on.
    case invalidState

    public var description: String {
        switch self {
        case .malformed(let reason): return "malformed SASL message: \(reason)"
        case .authenticationFailed: return "authentication failed"
        case .authzidNotPermitted: return "authorization identity not permitted"
        case .aborted: return "authentication aborted by client"
        case .mechanismUnsupported: return "mechanism not supported"
        case .channelBindingNotSupported: return "channel binding not supported"
        case .extensionNotSupported: return "mandatory SCRAM extension not supported"
        case .invalidState: return "SASL exchange is not waiting for this event"
        }
    }
}

/// Size limits for SASL messages. Each bounds memory and the work a client can make us do
/// before it has authenticated (DESIGN.md §4 "Bounded everything").
public enum SASLLimits {
    /// authcid and authzid, in bytes. RFC 4616 §2 requires accepting at least 255; a mail
    /// address is at most 254 (RFC 5321 §4.5.3.1.3), so no real account name is longer.
    public static let maxIdentityBytes = 255
    /// Passwords, in bytes: RFC 4616 §2 requires at least 255; we take what crypt(3) can hash
    /// (`PasswordHash.maxPasswordBytes`, 511) so long passphrases work.
    public static let maxPasswordBytes = PasswordHash.maxPasswordBytes
    /// A whole client message (PLAIN's three fields with separators, a SCRAM message).
    public static let maxMessageBytes = 2048
    /// A SCRAM client nonce. RFC 5802 sets no limit; real clients send 18 to 48 characters.
    public static let maxClientNonceBytes = 256
}

/// How the machine decides whether an authenticated user may act as `authzid`.
public enum SASLAuthzidPolicy: Sendable, Equatable {
    /// Only an absent or empty authzid, or one equal to authcid, is accepted; anything else
    /// fails with `authzidNotPermitted` before any password is checked. Right for a mail
    /// server without master users.
    case mustMatchAuthcid
    /// Pass any authzid on in `verifyPassword` / `lookupSCRAM` / `success`: the caller decides
    /// (e.g. for Dovecot-style master users).
    case delegateToCaller
}

/// How SCRAM's server-final-message reaches the client (RFC 4422 §4 item 6c).
public enum SASLFinalDataDelivery: Sendable, Equatable {
    /// As a last challenge; the client answers with an empty response, then `success` follows.
    /// SMTP AUTH (RFC 4954), IMAP4rev1 (RFC 3501) and POP3 (RFC 5034) have no way to carry
    /// data with the success reply, so this is the default.
    case challenge
    /// In `success(additionalData:)`, for protocols that carry it with the success reply.
    case additionalData
}

extension Collection<UInt8> {
    /// Strict UTF-8 decoding: `nil` for any ill-formed sequence instead of U+FFFD replacement,
    /// so that two different byte strings never become the same identity or password.
    /// (Decoding repairs ill-formed input, so a round trip that changes the bytes means it was.)
    var strictUTF8String: String? {
        let string = String(decoding: self, as: UTF8.self)
        return string.utf8.elementsEqual(self) ? string : nil
    }
}

/// Identities go into log lines, SQL lookups and protocol replies: refuse C0/DEL control
/// characters (CR and LF above all) rather than hope every later consumer escapes them.
func isAcceptableIdentity(_ identity: String) -> Bool {
    !identity.isEmpty && identity.utf8.count <= SASLLimits.maxIdentityBytes
        && !identity.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F })
}

/// Actions end up in debug logs; the password of `verifyPassword` must not (DESIGN.md §4).
extension SASLAction: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        switch self {
        case .challenge(let bytes): return "challenge(\(bytes.count) bytes)"
        case .verifyPassword(let authcid, let authzid, _):
            return "verifyPassword(authcid: \(authcid), authzid: \(authzid ?? "-"), password: <redacted>)"
        case .lookupSCRAM(let authcid, let authzid): return "lookupSCRAM(authcid: \(authcid), authzid: \(authzid ?? "-"))"
        case .success(let authcid, let authzid, let data):
            return "success(authcid: \(authcid), authzid: \(authzid ?? "-"), additionalData: \(data.map { "\($0.count) bytes" } ?? "none"))"
        case .failure(let failure): return "failure(\(failure))"
        }
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}
