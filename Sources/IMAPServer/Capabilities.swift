import MailAuth

/// What the server announces in CAPABILITY (RFC 9051 §6.1.1, §7.2.2), by session state.
enum Capabilities {
    static func list(tlsActive: Bool, tlsAvailable: Bool, authenticated: Bool, configuration: IMAPServerConfiguration) -> [String] {
        // RFC 7888 §4: before login only small non-synchronizing literals are accepted
        // (LITERAL-), so an unauthenticated client cannot make us read megabytes.
        var caps = ["IMAP4rev1", "IMAP4rev2", "SASL-IR", authenticated ? "LITERAL+" : "LITERAL-", "ID", "ENABLE", "IDLE"]
        if !authenticated {
            if !tlsActive && tlsAvailable { caps.append("STARTTLS") }
            let policy = configuration.authPolicy
            // RFC 9051 §6.2.3: LOGINDISABLED while LOGIN would expose the password.
            if !policy.allowsPlaintextPasswords(tlsActive: tlsActive) { caps.append("LOGINDISABLED") }
            caps += policy.offeredMechanisms(tlsActive: tlsActive).map { "AUTH=" + $0.rawValue }
            return caps
        }
        caps += [
            "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
            "SPECIAL-USE", "CREATE-SPECIAL-USE", "ESEARCH", "SEARCHRES", "CONDSTORE", "QRESYNC",
            "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "QUOTASET", "APPENDLIMIT=\(configuration.appendLimit)", "BINARY", "STATUS=SIZE",
            "MULTIAPPEND", "UTF8=ACCEPT", "SORT", "SORT=DISPLAY", "WITHIN", "COMPRESS=DEFLATE", "PREVIEW",
        ]
        return caps
    }
}
