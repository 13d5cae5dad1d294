import Crypto
import Foundation

/// Grammar of SCRAM messages (RFC 5802 §7). Package access: the test-support SCRAM client in
/// this package reuses it without being part of the library.
/// Messages are handled as bytes: every attribute is ASCII apart from `saslname` values, which
/// are validated as UTF-8 on their own.
package enum SCRAM {
    static let comma = UInt8(ascii: ",")
    static let equals = UInt8(ascii: "=")

    /// The first client message, parsed.
    struct ClientFirst: Sendable {
        /// gs2-header, with both commas: what the client must echo (base64) in `c=`.
        var gs2Header: [UInt8]
        var authzid: String?
        var username: String
        /// c-nonce.
        var clientNonce: [UInt8]
        /// client-first-message-bare: the first part of AuthMessage.
        var bare: [UInt8]
    }

    /// The final client message, parsed.
    struct ClientFinal: Sendable {
        /// The decoded `c=` value.
        var channelBinding: [UInt8]
        var nonce: [UInt8]
        /// client-final-message-without-proof: the last part of AuthMessage.
        var withoutProof: [UInt8]
        var proof: [UInt8]
    }

    /// printable = %x21-2B / %x2D-7E ;; Printable ASCII except ","
    package static func isPrintable(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) && byte != comma
    }

    /// Validates a nonce value: `1*printable`, bounded.
    package static func isValidNonce<C: Collection<UInt8>>(_ nonce: C, limit: Int) -> Bool {
        !nonce.isEmpty && nonce.count <= limit && nonce.allSatisfy(isPrintable)
    }

    /// saslname = 1*(value-safe-char / "=2C" / "=3D")
    ///
    /// RFC 5802 §5.1: "If the server receives a username that contains '=' not followed by
    /// either '2C' or '3D', then the server MUST fail the authentication."
    static func decodeSASLName(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        guard !bytes.isEmpty else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == equals {
                guard bytes.endIndex - index >= 3 else { return nil }
                let escape = (bytes[index + 1], bytes[index + 2])
                if escape == (UInt8(ascii: "2"), UInt8(ascii: "C")) {
                    result.append(comma)
                } else if escape == (UInt8(ascii: "3"), UInt8(ascii: "D")) {
                    result.append(equals)
                } else {
                    return nil
                }
                index += 3
            } else {
                // value-safe-char excludes NUL; "," cannot occur (it separates attributes).
                guard byte != 0 else { return nil }
                result.append(byte)
                index += 1
            }
        }
        return result
    }

    /// The inverse of `decodeSASLName` (RFC 5802 §5.1).
    package static func encodeSASLName(_ name: String) -> String {
        var out = ""
        for character in name.unicodeScalars {
            switch character {
            case "=": out += "=3D"
            case ",": out += "=2C"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// The value of `field` if it is `letter=value`.
    package static func value(of field: ArraySlice<UInt8>, _ letter: Character) -> ArraySlice<UInt8>? {
        guard field.count >= 2, field[field.startIndex] == letter.asciiValue!,
            field[field.startIndex + 1] == equals
        else { return nil }
        return field.dropFirst(2)
    }

    /// attr-val = ALPHA "=" value ; optional extensions after the defined attributes.
    package static func isExtension(_ field: ArraySlice<UInt8>) -> Bool {
        guard field.count >= 3, let first = field.first else { return false }
        let isAlpha = (0x41...0x5A).contains(first) || (0x61...0x7A).contains(first)
        return isAlpha && field[field.startIndex + 1] == equals
    }

    /// Splits on "," keeping empty fields (an empty field is itself a syntax error).
    package static func fields(_ message: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        message.split(separator: comma, omittingEmptySubsequences: false)
    }

    /// Checks the byte-level requirements common to every message: bounded size, no NUL
    /// (RFC 5802 §7 value-char and printable exclude it) and well-formed UTF-8.
    package static func checkMessage(_ message: [UInt8]) -> SASLFailure? {
        if message.isEmpty { return .malformed("empty SCRAM message") }
        if message.count > SASLLimits.maxMessageBytes { return .malformed("SCRAM message too long") }
        if message.contains(0) { return .malformed("NUL in SCRAM message") }
        if message.strictUTF8String == nil { return .malformed("SCRAM message is not UTF-8") }
        return nil
    }

    /// client-first-message = gs2-header client-first-message-bare
    /// gs2-header      = gs2-cbind-flag "," [ authzid ] ","
    /// gs2-cbind-flag  = ("p=" cb-name) / "n" / "y"
    /// authzid         = "a=" saslname
    /// client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    /// username        = "n=" saslname
    /// nonce           = "r=" c-nonce [s-nonce]
    static func parseClientFirst(_ message: [UInt8]) -> Result<ClientFirst, SASLFailure> {
        if let failure = checkMessage(message) { return .failure(failure) }
        let all = message[...]
        guard let firstComma = all.firstIndex(of: comma) else { return .failure(.malformed("no GS2 header")) }
        let flag = all[..<firstComma]
        switch Array(flag) {
        case Array("n".utf8):
            break  // client does not support channel binding
        case Array("y".utf8):
            // The client supports channel binding but thinks we do not: true, we do not
            // advertise -PLUS, so this is no downgrade (RFC 5802 §6).
            break
        default:
            if value(of: flag, "p") != nil { return .failure(.channelBindingNotSupported) }
            return .failure(.malformed("bad GS2 channel binding flag"))
        }
        let afterFlag = all[(firstComma + 1)...]
        guard let secondComma = afterFlag.firstIndex(of: comma) else { return .failure(.malformed("GS2 header not terminated")) }
        let authzidField = afterFlag[..<secondComma]
        var authzid: String?
        if !authzidField.isEmpty {
            guard let raw = value(of: authzidField, "a"), let decoded = decodeSASLName(raw) else {
                return .failure(.malformed("bad authzid in GS2 header"))
            }
            switch validatedIdentity(decoded, what: "authzid") {
            case .success(let identity): authzid = identity
            case .failure(let failure): return .failure(failure)
            }
        }
        let gs2Header = Array(all[...secondComma])
        let bare = all[(secondComma + 1)...]
        var parts = fields(bare)[...]
        if let first = parts.first, value(of: first, "m") != nil {
            // RFC 5802 §5.1: a mandatory extension the server does not support fails the exchange.
            return .failure(.extensionNotSupported)
        }
        guard let userField = parts.popFirst(), let rawUser = value(of: userField, "n") else {
            return .failure(.malformed("missing n= user name"))
        }
        guard let decodedUser = decodeSASLName(rawUser) else { return .failure(.malformed("bad user name escaping")) }
        let username: String
        switch validatedIdentity(decodedUser, what: "user name") {
        case .success(let identity): username = identity
        case .failure(let failure): return .failure(failure)
        }
        guard let nonceField = parts.popFirst(), let nonce = value(of: nonceField, "r") else {
            return .failure(.malformed("missing r= nonce"))
        }
        guard isValidNonce(nonce, limit: SASLLimits.maxClientNonceBytes) else {
            return .failure(.malformed("bad or overlong client nonce"))
        }
        // Extensions we do not know are ignored (RFC 5802 §5.1), but must be well-formed.
        guard parts.allSatisfy(isExtension) else { return .failure(.malformed("bad attribute after nonce")) }
        return .success(
            ClientFirst(gs2Header: gs2Header, authzid: authzid, username: username, clientNonce: Array(nonce), bare: Array(bare)))
    }

    /// client-final-message-without-proof = channel-binding "," nonce ["," extensions]
    /// client-final-message = client-final-message-without-proof "," proof
    /// channel-binding = "c=" base64
    /// proof           = "p=" base64
    static func parseClientFinal(_ message: [UInt8]) -> Result<ClientFinal, SASLFailure> {
        if let failure = checkMessage(message) { return .failure(failure) }
        let all = message[...]
        // The proof is the last attribute and base64 has no ",", so it follows the last comma.
        guard let lastComma = all.lastIndex(of: comma) else { return .failure(.malformed("missing p= proof")) }
        let withoutProof = all[..<lastComma]
        guard let rawProof = value(of: all[(lastComma + 1)...], "p") else { return .failure(.malformed("missing p= proof")) }
        guard let proof = base64Decode(rawProof), proof.count == SCRAMCredentials.keyBytes else {
            return .failure(.malformed("bad proof"))
        }
        var parts = fields(withoutProof)[...]
        guard let bindingField = parts.popFirst(), let rawBinding = value(of: bindingField, "c"),
            let binding = base64Decode(rawBinding)
        else { return .failure(.malformed("missing or bad c= channel binding")) }
        guard let nonceField = parts.popFirst(), let nonce = value(of: nonceField, "r"),
            isValidNonce(nonce, limit: SASLLimits.maxMessageBytes)
        else { return .failure(.malformed("missing or bad r= nonce")) }
        guard parts.allSatisfy(isExtension) else { return .failure(.malformed("bad attribute before proof")) }
        return .success(
            ClientFinal(channelBinding: binding, nonce: Array(nonce), withoutProof: Array(withoutProof), proof: proof))
    }

    /// AuthMessage := client-first-message-bare + "," + server-first-message + "," +
    ///                client-final-message-without-proof            ; RFC 5802 §3
    package static func authMessage(clientFirstBare: [UInt8], serverFirst: [UInt8], clientFinalWithoutProof: [UInt8]) -> [UInt8] {
        clientFirstBare + [comma] + serverFirst + [comma] + clientFinalWithoutProof
    }
}

/// Standard base64 with padding (RFC 4648 §4), as SCRAM uses for salt, proof and signatures.
package func base64Encode(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
}

/// Strict base64 decoding: padding required, no whitespace, and only the canonical encoding
/// (unused trailing bits zero), so that one value has exactly one accepted spelling.
package func base64Decode<C: Collection<UInt8>>(_ text: C) -> [UInt8]? {
    guard !text.isEmpty, text.count % 4 == 0, let data = Data(base64Encoded: Data(text)) else { return nil }
    guard data.base64EncodedData().elementsEqual(text) else { return nil }
    return Array(data)
}
