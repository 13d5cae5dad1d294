/// DKIM's "relaxed" canonicalization (RFC 6376 §3.4.2 and §3.4.4), the one Swallow signs with:
/// it survives the whitespace and folding changes relays make. Pure functions over bytes.
public enum DKIMCanonicalization {
    static let sp: UInt8 = 0x20, tab: UInt8 = 0x09, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, colon: UInt8 = 0x3A

    static func isWSP(_ b: UInt8) -> Bool { b == sp || b == tab }

    /// RFC 6376 §3.4.2: the field name lowercased; the value unfolded, runs of WSP made one SP,
    /// WSP at its start and end removed; no WSP around the colon. `field` is the whole field as
    /// received (name, colon, value, with or without its CRLF). Returns it with a final CRLF.
    public static func relaxedHeader(_ field: [UInt8]) -> [UInt8] {
        guard let colonIndex = field.firstIndex(of: colon) else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(field.count)
        var nameEnd = colonIndex
        while nameEnd > 0, isWSP(field[nameEnd - 1]) { nameEnd -= 1 }
        for b in field[..<nameEnd] { out.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b) }
        out.append(colon)
        var pendingSpace = false
        var started = false
        for b in field[(colonIndex + 1)...] {
            if b == cr || b == lf { continue }  // unfold (and drop the line terminator)
            if isWSP(b) {
                pendingSpace = started
                continue
            }
            if pendingSpace { out.append(sp) }
            pendingSpace = false
            started = true
            out.append(b)
        }
        out.append(cr)
        out.append(lf)
        return out
    }

    /// RFC 6376 §3.4.4: within each line runs of WSP become one SP and WSP at the line's end is
    /// removed; empty lines at the end of the body are removed; a non-empty body ends with CRLF.
    /// A bare LF is taken as a line end (Swallow refuses them in SMTP, but imported mail may have them).
    public static func relaxedBody(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var line: [UInt8] = []
        var emptyLines = 0
        var pendingSpace = false
        func endLine() {
            if line.isEmpty {
                emptyLines += 1
            } else {
                for _ in 0..<emptyLines { out.append(cr); out.append(lf) }
                emptyLines = 0
                out.append(contentsOf: line)
                out.append(cr); out.append(lf)
            }
            line.removeAll(keepingCapacity: true)
            pendingSpace = false
        }
        var i = body.startIndex
        while i < body.endIndex {
            let b = body[i]
            if b == cr, body.index(after: i) < body.endIndex, body[body.index(after: i)] == lf {
                endLine()
                i = body.index(i, offsetBy: 2)
                continue
            }
            if b == lf {
                endLine()
                i = body.index(after: i)
                continue
            }
            if isWSP(b) {
                pendingSpace = true
            } else {
                if pendingSpace { line.append(sp) }
                pendingSpace = false
                line.append(b)
            }
            i = body.index(after: i)
        }
        // A last line without CRLF: trailing WSP is dropped with it (pendingSpace), and a
        // non-empty one gets its CRLF.
        if !line.isEmpty { endLine() }
        return out
    }

    /// RFC 6376 §3.4.1: the field exactly as it is, with its CRLF.
    public static func simpleHeader(_ field: [UInt8]) -> [UInt8] {
        var out = field
        if out.last == lf, out.dropLast().last != cr { out.removeLast(); out += [cr, lf] }
        if out.last != lf { out += [cr, lf] }
        return out
    }

    /// RFC 6376 §3.4.3: empty lines at the end removed; an empty body is one CRLF.
    public static func simpleBody(_ body: ArraySlice<UInt8>) -> [UInt8] {
        var out = Array(body)
        if !out.isEmpty, out.last != lf { out += [cr, lf] }
        while out.count >= 4, out.suffix(4).elementsEqual([cr, lf, cr, lf]) { out.removeLast(2) }
        if out == [cr, lf] || out.isEmpty { return [cr, lf] }
        return out
    }
}
