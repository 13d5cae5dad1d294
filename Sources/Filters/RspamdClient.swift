import Foundation

/// rspamd's normal worker, by its HTTP protocol (`POST /checkv2`, rspamd's "protocol" docs): the
/// message with its envelope in request headers, a JSON verdict back (score, action, symbols).
public struct RspamdClient: Sendable {
    public let address: ScannerAddress
    public let timeout: Duration

    public init(address: ScannerAddress, timeout: Duration) {
        self.address = address
        self.timeout = timeout
    }

    public func check(_ message: [UInt8], envelope: ScanEnvelope) async throws(ScannerUnavailable) -> SpamScore {
        let response = try await ScannerConnection.exchange(address, request: [Self.request(message.count, envelope: envelope), message],
                                                            timeout: timeout)
        return try Self.score(response, from: address)
    }

    /// The request head. Header values come from the SMTP session (already bounded and free of
    /// CR/LF), but they are cleaned again: nothing we send may split a header line.
    static func request(_ length: Int, envelope: ScanEnvelope) -> [UInt8] {
        // By scalar: "\r\n" is one Character, equal to neither "\r" nor "\n".
        func clean(_ s: String) -> String {
            String(String.UnicodeScalarView(s.unicodeScalars.filter { $0 != "\r" && $0 != "\n" }).prefix(1000))
        }
        var head = "POST /checkv2 HTTP/1.1\r\nHost: rspamd\r\nConnection: close\r\nContent-Length: \(length)\r\n"
        if !envelope.clientIP.isEmpty { head += "IP: \(clean(envelope.clientIP))\r\n" }
        if !envelope.helo.isEmpty { head += "Helo: \(clean(envelope.helo))\r\n" }
        head += "From: <\(clean(envelope.sender))>\r\n"
        for r in envelope.recipients { head += "Rcpt: <\(clean(r))>\r\n" }
        if !envelope.queueID.isEmpty { head += "Queue-Id: \(clean(envelope.queueID))\r\n" }
        if let user = envelope.authenticatedUser { head += "User: \(clean(user))\r\n" }
        if !envelope.hostname.isEmpty { head += "MTA-Name: \(clean(envelope.hostname))\r\n" }
        return Array((head + "\r\n").utf8)
    }

    static func score(_ response: [UInt8], from address: ScannerAddress) throws(ScannerUnavailable) -> SpamScore {
        guard let (status, headers, body) = HTTPResponse.parse(response) else {
            throw ScannerUnavailable("rspamd at \(address): not an HTTP response")
        }
        guard status == 200 else {
            throw ScannerUnavailable("rspamd at \(address): HTTP \(status) \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        _ = headers
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let score = (json["score"] as? NSNumber)?.doubleValue,
              let action = json["action"] as? String else {
            throw ScannerUnavailable("rspamd at \(address): no score and action in its answer")
        }
        let required = (json["required_score"] as? NSNumber)?.doubleValue ?? 15
        let symbols = ((json["symbols"] as? [String: Any]) ?? [:]).keys.sorted()
        return SpamScore(score: score, required: required, isSpam: action != "no action" && action != "greylist",
                         action: action, subject: json["subject"] as? String, symbols: symbols)
    }
}

/// Just enough HTTP/1.1 to read one response that ends when the connection closes.
enum HTTPResponse {
    static func parse(_ bytes: [UInt8]) -> (status: Int, headers: [(String, String)], body: [UInt8])? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.firstRange(of: separator) else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else { return nil }
        var headers: [(String, String)] = []
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(bytes[end.upperBound...])
        if headers.contains(where: { $0.0 == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
            guard let decoded = dechunk(body) else { return nil }
            body = decoded
        } else if let length = headers.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }), length <= body.count {
            body = Array(body[..<length])
        }
        return (status, headers, body)
    }

    /// RFC 9112 §7.1 chunked coding, extensions and trailers ignored.
    static func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = bytes[i...].firstRange(of: [13, 10]) else { return nil }
            let sizeText = String(decoding: bytes[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else { return nil }
            i = lineEnd.upperBound
            if size == 0 { return out }
            guard i + size <= bytes.count else { return nil }
            out += bytes[i..<(i + size)]
            i += size + 2
            guard i <= bytes.count else { return nil }
        }
    }
}
