/// A response code, the bracketed part of a status response (RFC 9051 §7.1, §9 `resp-text-code`).
///
/// ```
/// resp-text      = ["[" resp-text-code "]" SP] [text]
/// resp-text-code = "ALERT" / "BADCHARSET" [SP "(" charset *(SP charset) ")" ] /
///                  capability-data / "PARSE" / "PERMANENTFLAGS" SP "(" [flag-perm *(SP flag-perm)] ")" /
///                  "READ-ONLY" / "READ-WRITE" / "TRYCREATE" / "UIDNEXT" SP nz-number /
///                  "UIDVALIDITY" SP nz-number / resp-code-apnd / resp-code-copy / "UIDNOTSTICKY" /
///                  "UNAVAILABLE" / "AUTHENTICATIONFAILED" / "AUTHORIZATIONFAILED" / "EXPIRED" /
///                  "PRIVACYREQUIRED" / "CONTACTADMIN" / "NOPERM" / "INUSE" / "EXPUNGEISSUED" /
///                  "CORRUPTION" / "SERVERBUG" / "CLIENTBUG" / "CANNOT" / "LIMIT" / "OVERQUOTA" /
///                  "ALREADYEXISTS" / "NONEXISTENT" / "NOTSAVED" / "HASCHILDREN" / "CLOSED" /
///                  "UNKNOWN-CTE" / atom [SP 1*<any TEXT-CHAR except "]">]
/// resp-code-apnd = "APPENDUID" SP nz-number SP append-uid
/// resp-code-copy = "COPYUID" SP nz-number SP uid-set SP uid-set
/// ```
public enum IMAPResponseCode: Sendable, Hashable {
    case alert
    /// RFC 5530 §3.
    case alreadyExists
    /// `APPENDUID uidvalidity uid-set` (UIDPLUS, RFC 4315 §3, RFC 9051 §7.1).
    case appendUID(uidValidity: UInt32, uids: SequenceSet)
    case authenticationFailed
    case authorizationFailed
    case badCharset([String])
    case cannot
    case capability([String])
    case clientBug
    /// The previously selected mailbox is now closed (QRESYNC, RFC 7162 §3.2.11).
    case closed
    /// COMPRESS while compression is already on (RFC 4978 §3).
    case compressionActive
    case contactAdmin
    /// `COPYUID uidvalidity source-uids destination-uids` (RFC 4315 §3).
    case copyUID(uidValidity: UInt32, source: SequenceSet, destination: SequenceSet)
    case corruption
    case expired
    case expungeIssued
    case hasChildren
    /// RFC 7162 §3.1.2.1.
    case highestModSeq(UInt64)
    case inUse
    case limit
    /// STORE ... UNCHANGEDSINCE failed for these messages (RFC 7162 §3.1.3).
    case modified(SequenceSet)
    /// The mailbox does not support mod-sequences (RFC 7162 §3.1.2.2).
    case noModSeq
    case noPerm
    case nonExistent
    case notSaved
    case overQuota
    case parse
    case permanentFlags([MessageFlag])
    case privacyRequired
    case readOnly
    case readWrite
    case serverBug
    /// The command or message is too large (RFC 4469 §5, RFC 7889, RFC 9051 §7.1).
    case tooBig
    case tryCreate
    case uidNext(UInt32)
    case uidNotSticky
    case uidValidity(UInt32)
    case unavailable
    case unknownCTE
    /// IMAP4rev1 only (RFC 3501 §7.1).
    case unseen(UInt32)
    /// Any other code: an atom and optional text (no "]", CR or LF).
    case other(String, String?)
}
