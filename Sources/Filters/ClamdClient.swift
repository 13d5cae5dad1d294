/// ClamAV's daemon, by its INSTREAM command (clamd(8)): the message is streamed to clamd, which
/// scans it without touching our files. Nothing is written to disk for it.
public struct ClamdClient: Sendable {
    public enum Verdict: Sendable, Equatable {
        case clean
        /// The signature clamd found (`Eicar-Test-Signature`, `Win.Trojan.X-1`).
        case infected(signature: String)
    }

    public let address: ScannerAddress
    public let timeout: Duration

    public init(address: ScannerAddress, timeout: Duration) {
        self.address = address
        self.timeout = timeout
    }

    /// Chunks of the stream; each is preceded by its length (4 bytes, network order).
    static let chunkSize = 64 * 1024

    public func scan(_ message: [UInt8]) async throws(ScannerUnavailable) -> Verdict {
        try Self.verdict(try await ScannerConnection.exchange(address, request: Self.request(message), timeout: timeout),
                         from: address)
    }

    /// `zINSTREAM\0`, the length-prefixed chunks, and a zero length that ends the stream.
    static func request(_ message: [UInt8]) -> [[UInt8]] {
        var parts: [[UInt8]] = [Array("zINSTREAM\0".utf8)]
        var start = 0
        while start < message.count {
            let end = min(start + chunkSize, message.count)
            parts.append(length(end - start) + message[start..<end])
            start = end
        }
        parts.append(length(0))
        return parts
    }

    private static func length(_ n: Int) -> [UInt8] {
        let v = UInt32(n)
        return [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    /// `stream: OK`, `stream: NAME FOUND`, or an error (`INSTREAM size limit exceeded. ERROR`),
    /// terminated by NUL with the `z` prefix.
    static func verdict(_ response: [UInt8], from address: ScannerAddress) throws(ScannerUnavailable) -> Verdict {
        var text = String(decoding: response, as: UTF8.self)
        while text.last == "\0" || text.last == "\n" { text.removeLast() }
        if text == "stream: OK" { return .clean }
        if text.hasPrefix("stream: "), text.hasSuffix(" FOUND") {
            let name = text.dropFirst("stream: ".count).dropLast(" FOUND".count)
            if !name.isEmpty { return .infected(signature: String(name.prefix(200))) }
        }
        throw ScannerUnavailable("clamd at \(address): \(text.isEmpty ? "no answer" : String(text.prefix(200)))")
    }
}
