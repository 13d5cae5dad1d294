/// Trace fields (RFC 5321 §4.4): every SMTP server that relays a message adds a `Received:`
/// field on top, so their number is the message's hop count, the loop detection of §6.3.
public enum TraceFields {
    /// The `Received:` fields of the message's own header section: up to its first empty line
    /// (fields in the body, or in an attached message, are not hops of this one), names
    /// compared case-insensitively (RFC 5322 §1.2.2), a folded field counted once.
    public static func receivedCount(in message: [UInt8]) -> Int {
        MessageHeader.parse(message).header.all("Received").count
    }
}
