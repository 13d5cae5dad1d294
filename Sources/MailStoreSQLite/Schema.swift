import GRDB
import SQLiteSupport

/// Database schema and its migrations. A migration, once released, is never edited: add a new one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE domain (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    created_at INTEGER NOT NULL);

                CREATE TABLE account (
                    id INTEGER PRIMARY KEY,
                    address TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    domain_id INTEGER NOT NULL REFERENCES domain(id),
                    password_hash TEXT NOT NULL,
                    scram TEXT,
                    quota_bytes INTEGER NOT NULL DEFAULT 0,
                    used_bytes INTEGER NOT NULL DEFAULT 0,
                    message_count INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL);

                CREATE TABLE alias (
                    source TEXT NOT NULL COLLATE NOCASE,
                    target TEXT NOT NULL COLLATE NOCASE,
                    PRIMARY KEY (source, target)) WITHOUT ROWID;

                -- AUTOINCREMENT: a deleted mailbox's id is never reused, so stale MailboxIDs held by
                -- a session can never point at another mailbox.
                CREATE TABLE mailbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    uidvalidity INTEGER NOT NULL,
                    uidnext INTEGER NOT NULL DEFAULT 1,
                    highest_modseq INTEGER NOT NULL DEFAULT 1,
                    special_use TEXT,
                    selectable INTEGER NOT NULL DEFAULT 1,
                    UNIQUE (account_id, name));

                -- Subscriptions are names, independent of existence (RFC 9051 §6.3.7).
                CREATE TABLE subscription (
                    account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    PRIMARY KEY (account_id, name)) WITHOUT ROWID;

                -- Bodies are shared by copies of a message; removed when the last copy goes.
                CREATE TABLE message_body (
                    id INTEGER PRIMARY KEY,
                    bytes BLOB NOT NULL);

                CREATE TABLE message (
                    mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
                    uid INTEGER NOT NULL,
                    modseq INTEGER NOT NULL,
                    flags INTEGER NOT NULL,
                    keywords TEXT NOT NULL DEFAULT '',
                    internal_date INTEGER NOT NULL,
                    internal_zone INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    body_id INTEGER NOT NULL REFERENCES message_body(id),
                    PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;
                CREATE INDEX message_by_modseq ON message(mailbox_id, modseq);
                CREATE INDEX message_by_body ON message(body_id);

                -- Expunged UIDs with the MODSEQ of their expunge, for QRESYNC VANISHED (RFC 7162 §3.2.10).
                CREATE TABLE expunged (
                    mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,
                    uid INTEGER NOT NULL,
                    modseq INTEGER NOT NULL,
                    PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;

                -- Changes, so that other processes on this database (the server, while the CLI
                -- imports) learn of them; pruned after a few minutes.
                CREATE TABLE change_log (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    origin TEXT NOT NULL,
                    account_id INTEGER NOT NULL,
                    mailbox_id INTEGER,
                    kind INTEGER NOT NULL,
                    at INTEGER NOT NULL);

                CREATE TABLE counter (
                    name TEXT PRIMARY KEY,
                    value INTEGER NOT NULL) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v2-message-prefix") { db in
            // A message's bytes are its own prefix (local delivery's Return-Path and Delivered-To,
            // different for every account) followed by its body, which all the copies of one
            // delivery share: one body row however many accounts the message went to. `size`
            // stays the size of prefix and body together.
            try db.execute(sql: "ALTER TABLE message ADD COLUMN prefix BLOB NOT NULL DEFAULT x''")
        }
        m.registerMigration("v3-acceptance") { db in
            // Accounts (and carried targets) that a delivery of an acceptance with several
            // commits recorded, so that the client's retry skips them (AcceptanceLedger,
            // SQLiteSupport.AcceptanceTable); pruned after a day.
            try AcceptanceTable.create(db)
        }
        m.registerMigration("v4-sieve") { db in
            // Users' Sieve scripts (at most one active) and vacation's memory of who was
            // answered with which reply until when (RFC 5230 §4.2).
            try db.execute(sql: """
                CREATE TABLE sieve_script (
                    account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    source TEXT NOT NULL,
                    active INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (account_id, name)) WITHOUT ROWID;

                CREATE TABLE vacation_reply (
                    account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
                    handle TEXT NOT NULL,
                    sender TEXT NOT NULL COLLATE NOCASE,
                    until INTEGER NOT NULL,
                    PRIMARY KEY (account_id, handle, sender)) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v5-message-quota") { db in
            // RFC 9208's MESSAGE resource, and whether the user was told they are near a limit
            // (one warning per crossing: cleared when usage falls back below the threshold).
            try db.execute(sql: """
                ALTER TABLE account ADD COLUMN max_messages INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE account ADD COLUMN quota_warned INTEGER NOT NULL DEFAULT 0;
                """)
        }
        return m
    }
}
