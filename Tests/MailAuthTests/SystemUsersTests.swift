import Foundation
import Testing
@testable import MailAuth

/// `SystemUserTable`: passwd(5) and shadow(5) as `useradd`, `passwd -l` and `chage -E` leave them.
struct SystemUsersTests {
    static let passwd = """
        root:x:0:0:root:/root:/bin/bash
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
        user1:x:1000:1000:User One,,,:/home/user1:/bin/bash
        locked:x:1001:1001::/home/locked:/bin/sh
        oldstyle:$6$salt$hash:1002:1002::/home/oldstyle:/bin/sh
        expired:x:1003:1003::/home/expired:/bin/sh
        broken:x:notanumber:1004::/home/broken:/bin/sh
        relative:x:1005:1005::home/relative:/bin/sh

        """
    static let shadow = """
        root:$y$j9T$root$hash:19000:0:99999:7:::
        user1:$y$j9T$abc$def:19000:0:99999:7:::
        locked:!$y$j9T$abc$def:19000:0:99999:7:::
        expired:$y$j9T$abc$def:19000:0:99999:7::1:

        """

    func table(minimumUID: UInt32 = 1000) throws -> (SystemUserTable, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sysusers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Self.passwd.write(to: dir.appendingPathComponent("passwd"), atomically: true, encoding: .utf8)
        try Self.shadow.write(to: dir.appendingPathComponent("shadow"), atomically: true, encoding: .utf8)
        var c = SystemUserTable.Configuration()
        c.passwdPath = dir.appendingPathComponent("passwd").path
        c.shadowPath = dir.appendingPathComponent("shadow").path
        c.minimumUID = minimumUID
        return (SystemUserTable(c), dir)
    }

    @Test func usersAndTheirHashes() throws {
        let (t, dir) = try table()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(t.user(named: "user1") == SystemUser(name: "user1", uid: 1000, gid: 1000, home: "/home/user1", hash: "$y$j9T$abc$def"))
        #expect(t.user(named: "oldstyle")?.hash == "$6$salt$hash")
        // Locked and expired accounts exist (they receive mail) but have no hash to log in with.
        #expect(t.user(named: "locked")?.hash == nil)
        #expect(t.user(named: "locked")?.uid == 1001)
        #expect(t.user(named: "expired")?.hash == nil)
    }

    @Test func systemAccountsAndDamagedLinesAreNobody() throws {
        let (t, dir) = try table()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["root", "daemon", "nobody", "broken", "relative", "nosuch", "", "User1", "user1:x", "../etc", "-x", "a\nroot"] {
            #expect(t.user(named: name) == nil, "\(name)")
        }
        let (low, dir2) = try table(minimumUID: 0)
        defer { try? FileManager.default.removeItem(at: dir2) }
        #expect(low.user(named: "root")?.hash == "$y$j9T$root$hash")
        #expect(low.user(named: "nobody") == nil)
    }

    @Test func unreadableShadowMeansNoHash() throws {
        var c = SystemUserTable.Configuration()
        let (t, dir) = try table()
        defer { try? FileManager.default.removeItem(at: dir) }
        c.passwdPath = t.configuration.passwdPath
        c.shadowPath = dir.appendingPathComponent("missing").path
        #expect(SystemUserTable(c).user(named: "user1")?.hash == nil)
        #expect(SystemUserTable(c).user(named: "user1")?.home == "/home/user1")
    }
}
