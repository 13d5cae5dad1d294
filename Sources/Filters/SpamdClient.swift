/// SpamAssassin's spamd, by the SPAMC/1.5 protocol's `CHECK` (spamd(1), "PROTOCOL"): the score
/// and the threshold come back in a `Spam:` header; the message itself is not sent back.
public struct SpamdClient: Sendable {
    public let address: ScannerAddress
    public let timeout: Duration
    /// The spamd user whose preferences apply (`-u`); empty: spamd's own default.
    public let user: String

    public init(address: ScannerAddress, timeout: Duration, user: String = "") {
        self.address = address
        self.timeout = timeout
        self.user = user
    }

    public func check(_ message: [UInt8]) async throws(ScannerUnavailable) -> SpamScore {
        var head = "CHECK SPAMC/1.5\r\nContent-length: \(message.count)\r\n"
        if !user.isEmpty { head += "User: \(user)\r\n" }
        head += "\r\n"
        let response = try await ScannerConnection.exchange(address, request: [Array(head.utf8), message], timeout: timeout)
        return try Self.score(response, from: address)
    }

    /// `SPAMD/1.1 0 EX_OK` and `Spam: True ; 1000.0 / 5.0` (RFC 822-style lines, CRLF).
    static func score(_ response: [UInt8], from address: ScannerAddress) throws(ScannerUnavailable) -> SpamScore {
        let text = String(decoding: response, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0.trimmed("\n") }
        guard let status = lines.first, status.hasPrefix("SPAMD/") else {
            throw ScannerUnavailable("spamd at \(address): unexpected answer \(String(text.prefix(100)).debugDescription)")
        }
        let fields = status.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[1] == "0" else {
            throw ScannerUnavailable("spamd at \(address): \(status.prefix(200))")
        }
        for line in lines.dropFirst() {
            guard line.lowercased().hasPrefix("spam:") else { continue }
            // "Spam: True ; 1000.0 / 5.0"
            let value = line.dropFirst("spam:".count)
            let parts = value.split(separator: ";", maxSplits: 1)
            guard parts.count == 2 else { break }
            let numbers = parts[1].split(separator: "/").map { $0.trimmed(" ") }
            guard numbers.count == 2, let score = Double(numbers[0]), let required = Double(numbers[1]) else { break }
            let isSpam = parts[0].trimmed(" ").lowercased() == "true" || parts[0].trimmed(" ").lowercased() == "yes"
            return SpamScore(score: score, required: required, isSpam: isSpam, action: nil, subject: nil, symbols: [])
        }
        throw ScannerUnavailable("spamd at \(address): no Spam: line in its answer")
    }
}

extension String {
    /// Without the leading and trailing characters that are in `set`.
    func trimmed(_ set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}

extension Substring {
    func trimmed(_ set: String) -> String { String(self).trimmed(set) }
}
