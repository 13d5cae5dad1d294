import Foundation
import MailCore

/// What `swallow sendmail` sends: the message read from standard input, completed the way
/// Postfix's pickup and cleanup complete locally submitted mail (RFC 5322 §3.6 requires From and
/// Date; RFC 5321 §6.3 lets a submission agent add Message-ID), Bcc removed after its addresses
/// were taken (`-t`).
public struct SendmailMessage: Sendable, Equatable {
    public var sender: String
    public var recipients: [String]
    /// CRLF line endings.
    public var bytes: [UInt8]

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// - Parameters:
    ///   - input: standard input as read.
    ///   - user: the invoking user's login name (the default sender's local part).
    ///   - hostname: our host name (the default sender's domain, and Message-ID's).
    public static func prepare(_ input: [UInt8], invocation: SendmailInvocation, user: String, hostname: String,
                               now: Date = Date(), unique: String = String(UInt64.random(in: 0...UInt64.max), radix: 36))
        throws(Failure) -> SendmailMessage {
        var lines = input.split(separator: 10, omittingEmptySubsequences: false).map { line -> ArraySlice<UInt8> in
            line.last == 13 ? line.dropLast() : line
        }
        if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline ends the last line
        if !invocation.ignoreDots, let dot = lines.firstIndex(where: { $0.elementsEqual([46]) }) {
            // Traditional sendmail: a line of one dot ends the input, unless -i.
            lines.removeSubrange(dot...)
        }
        var text: [UInt8] = []
        text.reserveCapacity(input.count + lines.count)
        for line in lines { text += line; text += [13, 10] }

        // Input that does not start with a header field (`echo hi | sendmail bob`) is all body.
        let (header, bodyOffset) = lines.first.map(Self.isFieldLine) == true ? MessageHeader.parse(text) : (MessageHeader(), 0)
        let sender = invocation.sender.flatMap { $0 == "<>" || $0.isEmpty ? nil : $0 } ?? "\(user)@\(hostname)"
        // `-f '<>'`: the null sender (a bounce-like notice that must not be answered).
        let envelopeSender = invocation.sender == "<>" ? "" : sender
        var recipients = invocation.recipients
        if invocation.recipientsFromHeaders {
            for name in ["To", "Cc", "Bcc"] {
                for field in header.all(name) {
                    recipients += AddressListEntry.parseAddressList(field.value).allMailboxes.map(\.addrSpec)
                }
            }
        }
        var seen = Set<String>()
        recipients = recipients.filter { !$0.isEmpty && seen.insert($0.lowercased()).inserted }
        guard !recipients.isEmpty else { throw Failure(description: "no recipients in the arguments or (with -t) the header") }

        var fields = header.fields.filter { !$0.hasName("Bcc") }
        if header.first("From") == nil {
            let name = invocation.fullName.map { Self.displayName($0) + " " } ?? ""
            fields.insert(HeaderField(name: "From", value: "\(name)<\(sender)>"), at: 0)
        }
        if header.first("Date") == nil { fields.append(HeaderField(name: "Date", value: RFC5322Date.format(now))) }
        if header.first("Message-ID") == nil {
            fields.append(HeaderField(name: "Message-ID", value: "<\(unique).\(Int(now.timeIntervalSince1970))@\(hostname)>"))
        }
        let body = text[bodyOffset...]
        let bytes = fields.reduce(into: [UInt8]()) { $0 += $1.raw } + [13, 10] + body
        return SendmailMessage(sender: envelopeSender, recipients: recipients, bytes: Array(bytes))
    }

    /// `field-name ":"` at the start of a line (RFC 5322 §3.6.8: ftext is %d33-57 / %d59-126).
    static func isFieldLine(_ line: ArraySlice<UInt8>) -> Bool {
        guard let colon = line.firstIndex(of: 58), colon > line.startIndex else { return false }
        return line[..<colon].allSatisfy { (33...126).contains($0) }
    }

    /// A display name as an RFC 5322 phrase: atoms as they are, anything else quoted.
    static func displayName(_ name: String) -> String {
        let atext = Set("!#$%&'*+-/=?^_`{|}~ ".utf8)
        let plain = name.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || atext.contains($0) }
        if plain && !name.isEmpty { return name }
        let escaped = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .filter { $0 != "\r" && $0 != "\n" }
        return "\"\(escaped)\""
    }
}
