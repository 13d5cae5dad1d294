import Foundation

// Maildir file naming and folder layout, as pure functions: the caller does the file I/O
// (tmp/ -> new/ -> cur/ renames, directory listing, fsync).
//
// Sources:
// - D. J. Bernstein, "Using maildir format", https://cr.yp.to/proto/maildir.html: unique names,
//   the ":2,FLAGS" info suffix, the flag letters and their ASCII order.
// - Maildir++ (Courier, also Dovecot's LAYOUT=maildir++ default): folders are ".Name"
//   subdirectories of the root with "." as the hierarchy separator, and ",S=<size>" in the
//   base name.
// - Dovecot: ",W=<size>" (the size with CRLF line endings), lowercase keyword letters in the
//   info, and the listescape plugin's "\NN" escaping of characters a folder name cannot hold.

/// The standard Maildir flags (the "2," info of https://cr.yp.to/proto/maildir.html), and their
/// IMAP meaning (RFC 9051 §2.3.2).
public struct MaildirFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// "P": passed (resent, forwarded or bounced). IMAP has no system flag for it ($Forwarded).
    public static let passed = MaildirFlags(rawValue: 1 << 0)
    /// "R": replied, IMAP `\Answered`.
    public static let replied = MaildirFlags(rawValue: 1 << 1)
    /// "S": seen, IMAP `\Seen`.
    public static let seen = MaildirFlags(rawValue: 1 << 2)
    /// "T": trashed, IMAP `\Deleted` (to be expunged).
    public static let trashed = MaildirFlags(rawValue: 1 << 3)
    /// "D": draft, IMAP `\Draft`.
    public static let draft = MaildirFlags(rawValue: 1 << 4)
    /// "F": flagged, IMAP `\Flagged`.
    public static let flagged = MaildirFlags(rawValue: 1 << 5)

    /// Each flag with its letter, in ASCII order: the spec requires flags "in ASCII order" in
    /// the info, so this table is also the order in which they are written.
    private static let lettered: [(letter: Character, flag: MaildirFlags)] = [
        ("D", .draft), ("F", .flagged), ("P", .passed), ("R", .replied), ("S", .seen), ("T", .trashed),
    ]

    /// Reads flag letters; letters that are not one of the six (keywords, unknown flags) are
    /// ignored, as the spec asks of readers.
    public init(letters: some StringProtocol) {
        var flags: MaildirFlags = []
        for character in letters {
            if let entry = Self.lettered.first(where: { $0.letter == character }) { flags.insert(entry.flag) }
        }
        self = flags
    }

    /// The flag letters in ASCII order, e.g. "FRS".
    public var letters: String {
        String(Self.lettered.filter { contains($0.flag) }.map(\.letter))
    }
}

/// A Maildir file name taken apart (see `Maildir.info(_:)`).
public struct MaildirInfo: Sendable, Hashable {
    /// The unique part, including any ",S=" / ",W=" fields; everything before the info.
    public var base: String
    /// The standard flags.
    public var flags: MaildirFlags
    /// Dovecot keyword letters ("a"..."z", indexes into the dovecot-keywords file), sorted.
    public var keywords: String

    public init(base: String, flags: MaildirFlags, keywords: String = "") {
        self.base = base
        self.flags = flags
        self.keywords = keywords
    }
}

/// Maildir and Maildir++ naming rules.
public enum Maildir: Sendable {
    /// Characters accepted in front of the "2," info. ":" is the spec's; file systems that cannot
    /// hold ":" (FAT, NTFS, some network shares) make tools substitute another one: "!" and ";"
    /// are the ones in use (mbsync's InfoDelimiter, Dovecot built with another MAILDIR_INFO_SEP).
    public static let infoSeparators: Set<Character> = [":", "!", ";"]

    /// The escape character of folder names, as in Dovecot's listescape plugin (`\NN`, two
    /// lowercase hex digits).
    // MARK: File names

    /// Splits a file name into its base and standard flags, e.g. "123.M1P2.host:2,FS" ->
    /// ([.flagged, .seen], "123.M1P2.host"). A name without info (a file in new/) has no flags;
    /// an experimental "1," info is dropped (its meaning is undefined) and gives no flags.
    public static func parseInfo(_ filename: String) -> (flags: MaildirFlags, base: String) {
        let parsed = info(filename)
        return (parsed.flags, parsed.base)
    }

    /// Like `parseInfo(_:)`, but also returns Dovecot's keyword letters.
    public static func info(_ filename: String) -> MaildirInfo {
        let characters = Array(filename)
        // The info is the last separator followed by "2," or "1,": the base may legitimately
        // contain "!" or ";" (a host name written by another tool), the info cannot.
        var index = characters.count - 3
        while index >= 0 {
            if infoSeparators.contains(characters[index]),
               characters[index + 1] == "2" || characters[index + 1] == "1",
               characters[index + 2] == ","
            {
                let base = String(characters[..<index])
                guard characters[index + 1] == "2" else { return MaildirInfo(base: base, flags: []) }
                let letters = characters[(index + 3)...]
                let keywords = Set(letters.filter { $0 >= "a" && $0 <= "z" }).sorted()
                return MaildirInfo(base: base, flags: MaildirFlags(letters: String(letters)), keywords: String(keywords))
            }
            index -= 1
        }
        return MaildirInfo(base: filename, flags: [])
    }

    /// The file name for a message in cur/: `base` + ":2," + flag letters in ASCII order (the
    /// spec's requirement), then any Dovecot keyword letters (lowercase sorts after uppercase).
    /// Characters in `keywords` other than "a"..."z" are dropped.
    public static func filename(
        base: String, flags: MaildirFlags, keywords: String = "", separator: Character = ":"
    ) -> String {
        let keywordLetters = Set(keywords.filter { $0 >= "a" && $0 <= "z" }).sorted()
        return base + String(separator) + "2," + flags.letters + String(keywordLetters)
    }

    /// A unique base name for a new file, in the spec's modern form
    /// "<seconds>.M<microseconds>P<pid>Q<sequence>.<host>", e.g. "1764417600.M123P456Q7.host".
    ///
    /// `sequence` is the number of deliveries this process has made (the spec's "Q"), which keeps
    /// names unique within one microsecond. "/" and ":" in `host` become "\057" and "\072", as
    /// the spec says, because they would make a path or an info separator.
    public static func uniqueName(time: Date, sequence: Int, pid: Int32, host: String) -> String {
        // A NaN or infinite time (a broken clock) must not trap; it yields "0.M0".
        let interval = time.timeIntervalSince1970.isFinite ? time.timeIntervalSince1970 : 0
        let wholeSeconds = interval.rounded(.down)
        let seconds = Int64(exactly: wholeSeconds) ?? 0
        let microseconds = min(max(Int((interval - wholeSeconds) * 1_000_000), 0), 999_999)
        var escapedHost = ""
        for character in host {
            switch character {
            case "/": escapedHost += "\\057"
            case ":": escapedHost += "\\072"
            default: escapedHost.append(character)
            }
        }
        return "\(seconds).M\(microseconds)P\(pid)Q\(sequence).\(escapedHost)"
    }

    /// The message size from a Maildir++ ",S=<size>" field of the base name, if present: the
    /// size of the file, so a quota can be counted without a stat(2) per message.
    public static func sizeHint(_ filename: String) -> Int? {
        field("S", in: filename)
    }

    /// The size with CRLF line endings from Dovecot's ",W=<size>" field, if present: exactly the
    /// size Swallow stores and IMAP reports as RFC822.SIZE.
    public static func virtualSizeHint(_ filename: String) -> Int? {
        field("W", in: filename)
    }

    private static func field(_ name: Character, in filename: String) -> Int? {
        // Fields follow the unique part, comma-separated, before the info.
        for part in info(filename).base.split(separator: ",").dropFirst() {
            guard part.first == name, part.dropFirst().first == "=" else { continue }
            let digits = part.dropFirst(2)
            guard !digits.isEmpty, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
            return Int(digits)
        }
        return nil
    }

    // MARK: Maildir++ folders

    /// The Maildir++ directory of a mailbox, relative to the Maildir root.
    ///
    /// INBOX (any case, RFC 9051 §5.1) is the root itself, returned as "". Any other name is
    /// "." followed by its hierarchy levels (split on `delimiter`) joined by ".": "Sent" ->
    /// ".Sent", "a/b" -> ".a.b".
    ///
    /// A "." inside a level cannot be written as is, since "." is Maildir++'s separator. Rather
    /// than refuse such names ("v1.2" is a reasonable folder name), they are escaped the way
    /// Dovecot's listescape plugin does: "\" and two lowercase hex digits, so "v1.2" -> ".v1\2e2".
    /// The same applies to "/" (when it is not the delimiter), to "\" itself (so unescaping is
    /// exact), to a "~" starting the name (shell home expansion) and to control characters.
    /// Non-ASCII text is kept as UTF-8: Dovecot and Courier store folder names in modified
    /// UTF-7 (RFC 3501 §5.1.3), so a caller that wants their on-disk form encodes `name` first.
    ///
    /// Every name maps to a distinct directory that is a single path component (never "/"
    /// inside, never "." or ".."), and `mailboxName(forFolderDirectory:)` inverts it. Names the
    /// IMAP layer would refuse are still mapped safely rather than trapping: an empty level is
    /// kept ("a//b" -> ".a..b"); a name made only of delimiters has no levels, so it is escaped
    /// whole ("/" -> ".\2f", where splitting would give "..", the parent directory); and the
    /// empty name, which names no mailbox, maps to the root like INBOX.
    public static func folderDirectoryName(forMailbox name: String, delimiter: Character = "/") -> String {
        if isInbox(name) || name.isEmpty { return "" }
        var levels = name.split(separator: delimiter, omittingEmptySubsequences: false)
        if levels.allSatisfy(\.isEmpty) { levels = [name[...]] }
        var directory: [UInt8] = [0x2E]
        for (level, part) in levels.enumerated() {
            if level > 0 { directory.append(0x2E) }
            for (offset, byte) in part.utf8.enumerated() {
                let needsEscape = byte == 0x2E || byte == 0x2F || byte == 0x5C || byte < 0x20 || byte == 0x7F
                    || (byte == 0x7E && level == 0 && offset == 0)
                if needsEscape {
                    directory += [0x5C, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
                } else {
                    directory.append(byte)
                }
            }
        }
        // Only ASCII bytes were added to valid UTF-8, so this decodes without replacement.
        return String(decoding: directory, as: UTF8.self)
    }

    /// The mailbox name of a Maildir++ directory (the inverse of
    /// `folderDirectoryName(forMailbox:delimiter:)`): "" -> "INBOX", ".a.b" -> "a/b", "\NN"
    /// escapes decoded. `nil` for a directory that is not a folder: one not starting with "."
    /// (cur, new, tmp) and the "." and ".." entries.
    public static func mailboxName(forFolderDirectory directory: String, delimiter: Character = "/") -> String? {
        if directory.isEmpty { return "INBOX" }
        guard directory.hasPrefix("."), directory != ".", directory != ".." else { return nil }
        let bytes = Array(directory.utf8.dropFirst())
        var name: [UInt8] = []
        let delimiterBytes = Array(String(delimiter).utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x2E {
                name += delimiterBytes
                index += 1
            } else if byte == 0x5C, index + 2 < bytes.count,
                      let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                name.append(high << 4 | low)
                index += 3
            } else {
                // A "\" not followed by two hex digits is an ordinary character (Dovecot too).
                name.append(byte)
                index += 1
            }
        }
        return String(decoding: name, as: UTF8.self)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }

    /// ASCII-only comparison: Unicode case mapping would also map e.g. "ınbox" (dotless i) to
    /// INBOX.
    private static func isInbox(_ name: String) -> Bool {
        let utf8 = Array(name.utf8)
        guard utf8.count == 5 else { return false }
        return zip(utf8, "inbox".utf8).allSatisfy { ($0 | 0x20) == $1 }
    }
}
