import Foundation
import Logging
import Synchronization

/// `[log] format = "json"`: one JSON object per event on standard error, for log shippers
/// (Vector, Fluent Bit, Loki's promtail): `time` (RFC 3339, UTC), `level`, `message`, `source`
/// (the module), and every metadata key as a string (queue_id, client, user, ...).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let write: @Sendable ([UInt8]) -> Void

    public init(write: @escaping @Sendable ([UInt8]) -> Void = JSONLogHandler.standardError) {
        self.write = write
    }

    /// Whole lines, one write each, so concurrent events never interleave.
    public static let standardError: @Sendable ([UInt8]) -> Void = { line in
        line.withUnsafeBytes { p in _ = Foundation.write(2, p.baseAddress, p.count) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in metadata { fields[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { fields[key] = "\(value)" }
        fields["time"] = Self.time(Date())
        fields["level"] = event.level.rawValue
        fields["message"] = "\(event.message)"
        fields["source"] = event.source
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(fields) else { return }
        line.append(10)
        write([UInt8](line))
    }

    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
