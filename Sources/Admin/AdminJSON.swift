import Foundation
import MailCore
import MailQueue

/// The JSON the API answers and `--json` prints: one shape for both (snake_case keys, ISO 8601
/// times), documented in openapi.json.
public enum AdminJSON {
    public struct Recipient: Codable, Sendable {
        let address: String
        let state: String
        let attempts: Int
        let next_attempt: String
        let last_error: String?

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(address, forKey: .address); try c.encode(state, forKey: .state)
            try c.encode(attempts, forKey: .attempts); try c.encode(next_attempt, forKey: .next_attempt)
            try c.encode(last_error, forKey: .last_error)  // null, not absent
        }
    }

    public struct QueueEntry: Codable, Sendable {
        let id: String
        let sender: String
        let size: Int
        let arrival: String
        let held: Bool
        let recipients: [Recipient]
        /// `GET /api/queue/{id}` only: the header section (the body may be large or binary).
        var header: String?
    }

    public struct TraceEventJSON: Codable, Sendable {
        let time: String
        let kind: String
        let recipient: String?
        let text: String
        let data: [String: String]

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(time, forKey: .time); try c.encode(kind, forKey: .kind)
            try c.encode(recipient, forKey: .recipient)  // null, not absent
            try c.encode(text, forKey: .text); try c.encode(data, forKey: .data)
        }
    }

    public struct TracedMessageJSON: Codable, Sendable {
        let queue_id: String
        let message_id: String?
        let sender: String
        let recipients: [String]
        let time: String
        let events: [TraceEventJSON]

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(queue_id, forKey: .queue_id)
            try c.encode(message_id, forKey: .message_id)  // null, not absent
            try c.encode(sender, forKey: .sender); try c.encode(recipients, forKey: .recipients)
            try c.encode(time, forKey: .time); try c.encode(events, forKey: .events)
        }
    }

    static func iso(_ date: Date) -> String { date.formatted(.iso8601) }

    static func recipients(_ list: [QueuedMessage.Recipient]) -> [Recipient] {
        list.map { r in
            Recipient(address: r.address, state: "\(r.state)", attempts: r.attempts, next_attempt: iso(r.nextAttempt),
                      last_error: r.lastError)
        }
    }

    public static func queue(_ entries: [QueueSummary]) -> [QueueEntry] {
        entries.map { e in
            QueueEntry(id: e.id.rawValue, sender: e.sender, size: e.size, arrival: iso(e.arrival), held: e.held,
                       recipients: recipients(e.recipients))
        }
    }

    public static func queued(_ m: QueuedMessage) -> QueueEntry {
        let header = m.bytes.prefix(MessageHeader.parse(m.bytes).bodyOffset)
        return QueueEntry(id: m.id.rawValue, sender: m.sender, size: m.bytes.count, arrival: iso(m.arrival), held: m.held,
                          recipients: recipients(m.recipients), header: String(decoding: header, as: UTF8.self))
    }

    public static func trace(_ messages: [TracedMessage]) -> [TracedMessageJSON] {
        messages.map { m in
            TracedMessageJSON(queue_id: m.envelope.queueID.rawValue, message_id: m.envelope.messageID, sender: m.envelope.sender,
                              recipients: m.envelope.recipients, time: iso(m.envelope.time),
                              events: m.events.map { e in
                                  TraceEventJSON(time: iso(e.time), kind: e.kind.rawValue, recipient: e.recipient, text: e.text,
                                                 data: e.data)
                              })
        }
    }

    /// Pretty, sorted keys: what `--json` prints and the API sends.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
