import Foundation
import MailCore
import Testing

@Suite struct MaildirTests {
    @Test(arguments: [
        ("1764417600.M123P456Q7.host:2,FS", MaildirFlags([.flagged, .seen]), "1764417600.M123P456Q7.host"),
        ("1764417600.M123P456Q7.host", MaildirFlags(), "1764417600.M123P456Q7.host"),
        ("1764417600.M123P456Q7.host:2,", MaildirFlags(), "1764417600.M123P456Q7.host"),
        ("b:2,DFPRST", MaildirFlags([.draft, .flagged, .passed, .replied, .seen, .trashed]), "b"),
        ("b:2,TSRPFD", MaildirFlags([.draft, .flagged, .passed, .replied, .seen, .trashed]), "b"),
        ("b!2,S", MaildirFlags.seen, "b"),
        ("b;2,R", MaildirFlags.replied, "b"),
        ("b:2,Sab", MaildirFlags.seen, "b"),
        ("b:2,SXz", MaildirFlags.seen, "b"),
        ("b:1,S", MaildirFlags(), "b"),
        ("b,S=1234,W=1260:2,S", MaildirFlags.seen, "b,S=1234,W=1260"),
        ("h!x.host:2,F", MaildirFlags.flagged, "h!x.host"),
        ("b:3,S", MaildirFlags(), "b:3,S"),
        ("b:2", MaildirFlags(), "b:2"),
        ("", MaildirFlags(), ""),
        ("b:2,S:2,F", MaildirFlags.flagged, "b:2,S"),
    ])
    func parseInfo(filename: String, flags: MaildirFlags, base: String) {
        let parsed = Maildir.parseInfo(filename)
        #expect(parsed.flags == flags)
        #expect(parsed.base == base)
    }

    @Test func keywords() {
        let info = Maildir.info("b:2,Sdba")
        #expect(info == MaildirInfo(base: "b", flags: .seen, keywords: "abd"))
        #expect(Maildir.filename(base: info.base, flags: info.flags, keywords: info.keywords) == "b:2,Sabd")
    }

    @Test(arguments: [
        (MaildirFlags(), ":", "base:2,"),
        (MaildirFlags.seen, ":", "base:2,S"),
        (MaildirFlags([.seen, .flagged, .replied]), ":", "base:2,FRS"),
        (MaildirFlags([.trashed, .draft, .passed]), ":", "base:2,DPT"),
        (MaildirFlags([.seen]), "!", "base!2,S"),
    ])
    func filename(flags: MaildirFlags, separator: String, expected: String) {
        let name = Maildir.filename(base: "base", flags: flags, separator: Character(separator))
        #expect(name == expected)
        #expect(Maildir.parseInfo(name) == (flags, "base"))
    }

    @Test func everyFlagCombinationRoundTrips() {
        for raw in UInt8(0)..<64 {
            let flags = MaildirFlags(rawValue: raw)
            let name = Maildir.filename(base: "1.M2P3Q4.h,S=10", flags: flags)
            let letters = flags.letters
            #expect(letters == String(letters.sorted()))
            #expect(Maildir.parseInfo(name) == (flags, "1.M2P3Q4.h,S=10"))
            #expect(MaildirFlags(letters: letters) == flags)
        }
    }

    @Test func uniqueName() {
        let time = Date(timeIntervalSince1970: 1_764_417_600.000123)
        #expect(Maildir.uniqueName(time: time, sequence: 7, pid: 456, host: "host") == "1764417600.M123P456Q7.host")
        #expect(Maildir.uniqueName(time: Date(timeIntervalSince1970: 5), sequence: 0, pid: 1, host: "a/b:c.example")
            == "5.M0P1Q0.a\\057b\\072c.example")
        let a = Maildir.uniqueName(time: time, sequence: 1, pid: 9, host: "h")
        let b = Maildir.uniqueName(time: time, sequence: 2, pid: 9, host: "h")
        #expect(a != b)
        // A broken clock must not crash delivery.
        #expect(Maildir.uniqueName(time: Date(timeIntervalSince1970: .nan), sequence: 1, pid: 2, host: "h") == "0.M0P2Q1.h")
        #expect(Maildir.uniqueName(time: .distantFuture, sequence: 1, pid: 2, host: "h") == "64092211200.M0P2Q1.h")
        // A generated name has no info and survives filename/parseInfo.
        #expect(Maildir.parseInfo(a) == ([], a))
        #expect(Maildir.parseInfo(Maildir.filename(base: a, flags: .seen)) == (.seen, a))
    }

    @Test(arguments: [
        ("1.M2P3.host,S=1234:2,S", 1234 as Int?, nil as Int?),
        ("1.M2P3.host,S=1234,W=1260:2,S", 1234, 1260),
        ("1.M2P3.host,W=1260,S=1234", 1234, 1260),
        ("1.M2P3.host:2,S", nil, nil),
        ("1.M2P3.host,S=:2,S", nil, nil),
        ("1.M2P3.host,S=12x", nil, nil),
        ("1.M2P3.host,S=-5", nil, nil),
        ("1.M2P3.host,S=99999999999999999999999", nil, nil),
        ("S=5", nil, nil),
        ("1.M2P3.host,S=0", 0, nil),
    ])
    func sizeHints(filename: String, size: Int?, virtualSize: Int?) {
        #expect(Maildir.sizeHint(filename) == size)
        #expect(Maildir.virtualSizeHint(filename) == virtualSize)
    }

    @Test(arguments: [
        ("INBOX", "/", ""),
        ("inbox", "/", ""),
        ("Sent", "/", ".Sent"),
        ("a/b", "/", ".a.b"),
        ("a/b/c", "/", ".a.b.c"),
        ("INBOX/sub", "/", ".INBOX.sub"),
        ("v1.2", "/", ".v1\\2e2"),
        ("a\\b", "/", ".a\\5cb"),
        ("~home", "/", ".\\7ehome"),
        ("a/~b", "/", ".a.~b"),
        ("a.b", ".", ".a.b"),
        ("a/b.c", ".", ".a\\2fb.c"),
        ("Entw&APw-rfe", "/", ".Entw&APw-rfe"),
        ("Entwürfe", "/", ".Entwürfe"),
        ("tab\there", "/", ".tab\\09here"),
        ("ınbox", "/", ".ınbox"),
        ("..", "/", ".\\2e\\2e"),
    ])
    func folderNames(mailbox: String, delimiter: String, directory: String) {
        let delimiter = Character(delimiter)
        #expect(Maildir.folderDirectoryName(forMailbox: mailbox, delimiter: delimiter) == directory)
        let back = Maildir.mailboxName(forFolderDirectory: directory, delimiter: delimiter)
        #expect(back == (mailbox.lowercased() == "inbox" ? "INBOX" : mailbox))
    }

    @Test(arguments: [
        ("cur", nil as String?),
        ("new", nil),
        ("tmp", nil),
        (".", nil),
        ("..", nil),
        ("dovecot-uidlist", nil),
        (".Trash", "Trash"),
        (".A\\2Eb", "A.b"),
        (".bad\\zzescape", "bad\\zzescape"),
        (".end\\4", "end\\4"),
        ("..x", "/x"),
        (".a.", "a/"),
    ])
    func directoriesThatAreNotFolders(directory: String, mailbox: String?) {
        #expect(Maildir.mailboxName(forFolderDirectory: directory) == mailbox)
    }

    @Test(arguments: [
        ("/", ".\\2f"),
        ("//", ".\\2f\\2f"),
        ("a//b", ".a..b"),
        ("/a", "..a"),
        ("a/", ".a."),
    ])
    func namesWithEmptyLevelsAreMappedSafely(name: String, directory: String) {
        #expect(Maildir.folderDirectoryName(forMailbox: name) == directory)
        #expect(Maildir.mailboxName(forFolderDirectory: directory) == name)
    }

    @Test func emptyNameIsTheRoot() {
        #expect(Maildir.folderDirectoryName(forMailbox: "") == "")
        #expect(Maildir.folderDirectoryName(forMailbox: "..", delimiter: ".") == ".\\2e\\2e")
    }

    @Test func randomFolderNamesRoundTrip() {
        var random = SeededRNG(seed: 7)
        let alphabet = Array("ab./\\~ é&-\t")
        for _ in 0..<2000 {
            let name = String((0..<Int.random(in: 1...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            let directory = Maildir.folderDirectoryName(forMailbox: name)
            #expect(directory.hasPrefix("."))
            #expect(directory != "." && directory != "..")
            #expect(!directory.contains("/"))
            #expect(Maildir.mailboxName(forFolderDirectory: directory) == name)
        }
    }
}
