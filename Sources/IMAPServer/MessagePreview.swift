import Foundation
import MailCore

/// The PREVIEW of a message (RFC 8970 §2): the start of its first readable text part, as plain
/// text with whitespace collapsed, at most `maxCharacters` characters (the RFC's limit is 256;
/// clients show one or two lines). Quoted lines (`> ...`) and HTML markup are left out.
enum MessagePreview {
    static let maxCharacters = 200

    static func text(of message: LoadedMessage) -> String {
        guard let (part, html) = firstText(message.root, depth: 0) else { return "" }
        let decoded = part.decodedBody(in: message.bytes) ?? MessageSections.slice(message.bytes, part.bodyRange)
        // Enough bytes for the preview even in a four-byte-per-character charset.
        let head = decoded.prefix(html ? 64 * 1024 : maxCharacters * 8)
        var text = MailCharset.decode(head, charset: part.contentType.charset ?? "us-ascii") ?? String(decoding: head, as: UTF8.self)
        if html { text = stripHTML(text) }
        return collapse(text)
    }

    /// The first text/plain part that is not an attachment, or else the first text/html one.
    static func firstText(_ part: MIMEPart, depth: Int) -> (MIMEPart, html: Bool)? {
        guard depth < MIMELimits.maxDepth else { return nil }
        if part.contentType.isMultipart {
            var html: (MIMEPart, html: Bool)?
            for child in part.children {
                guard let found = firstText(child, depth: depth + 1) else { continue }
                if !found.html { return found }
                if html == nil { html = found }
            }
            return html
        }
        if let inner = part.encapsulated { return firstText(inner, depth: depth + 1) }
        guard part.contentType.isText, part.contentDisposition?.value != "attachment" else { return nil }
        switch part.contentType.subtype {
        case "plain": return (part, false)
        case "html": return (part, true)
        default: return nil
        }
    }

    /// Lines joined with single spaces, quoted lines and control characters dropped, cut at a
    /// character boundary.
    static func collapse(_ text: String) -> String {
        var out = ""
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.hasPrefix(">") { continue }
            for c in trimmed {
                if c.isWhitespace || c.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    if !out.isEmpty, out.last != " " { out.append(" ") }
                } else {
                    out.append(c)
                }
                if out.count >= maxCharacters { return String(out.prefix(maxCharacters)) }
            }
            if !out.isEmpty, out.last != " " { out.append(" ") }
        }
        while out.last == " " { out.removeLast() }
        return out
    }

    /// Markup removed: tags, comments, `<style>`/`<script>` contents; common entities decoded.
    static func stripHTML(_ html: String) -> String {
        var out = ""
        var rest = Substring(html)
        while let open = rest.firstIndex(of: "<") {
            out += rest[..<open]
            let tag = rest[open...]
            let lower = tag.prefix(8).lowercased()
            let closer = lower.hasPrefix("<style") ? "</style>" : lower.hasPrefix("<script") ? "</script>" : lower.hasPrefix("<!--") ? "-->" : ">"
            guard let end = tag.range(of: closer, options: .caseInsensitive) else { rest = ""; break }
            let name = tag.dropFirst().prefix(while: { $0.isLetter }).lowercased()
            if ["p", "br", "div", "li", "tr", "h1", "h2", "h3"].contains(name) { out += "\n" }
            rest = tag[end.upperBound...]
        }
        out += rest
        for (entity, value) in [("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
            out = out.replacingOccurrences(of: entity, with: value)
        }
        return out
    }
}
