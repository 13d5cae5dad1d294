import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `swallow import` reads regular files only and `swallow export` creates what it writes, never
/// following a link or writing into something that was there (security audit, issue 8).
@Suite("import and export file safety", .serialized)
struct TransferSafetyTests {
    struct Installation {
        let tmp: TemporaryDirectory
        let config: [String]

        init() async throws {
            tmp = try TemporaryDirectory()
            let data = tmp.path + "/data"
            config = ["--config", data + "/swallow.toml"]
            var r = try await Run.swallow(["init", "--data", data, "--domain", "example.test"])
            #expect(r.status == 0, "\(r.stderr)")
            r = try await Run.swallow(["user", "add", "alice@example.test", "--password-stdin"] + config, stdin: "pw\n")
            #expect(r.status == 0, "\(r.stderr)")
        }

        func swallow(_ arguments: [String]) async throws -> Run.Output {
            try await Run.swallow(arguments + config, timeout: .seconds(60))
        }

        /// A Maildir holding one ordinary message in cur/.
        func maildir(_ name: String) throws -> String {
            let dir = tmp.path + "/" + name
            for sub in ["cur", "new", "tmp"] {
                try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
            }
            try "Subject: ordinary\n\nordinary body\n".write(toFile: dir + "/cur/1700000000.M1P1.host:2,S",
                                                             atomically: false, encoding: .utf8)
            return dir
        }

        func exported() async throws -> String {
            let out = tmp.path + "/check-\(UUID().uuidString).mbox"
            let r = try await swallow(["export", "--format", "mbox", "--user", "alice@example.test", out])
            #expect(r.status == 0, "\(r.stderr)")
            return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        }
    }

    @Test func maildirSymlinkIsSkippedWithAWarning() async throws {
        let i = try await Installation()
        defer { i.tmp.remove() }
        let secret = i.tmp.path + "/secret"
        try "Subject: secret\n\nTOP-SECRET-CONTENT\n".write(toFile: secret, atomically: false, encoding: .utf8)
        let dir = try i.maildir("md")
        #expect(symlink(secret, dir + "/new/1700000001.M2P1.host") == 0)

        let r = try await i.swallow(["import", "--format", "maildir", "--user", "alice@example.test", dir])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("imported 1 messages into INBOX"), "\(r.stdout)")
        #expect(r.stderr.contains("1700000001.M2P1.host") && r.stderr.contains("skipped"), "\(r.stderr)")
        let mail = try await i.exported()
        #expect(mail.contains("ordinary body") && !mail.contains("TOP-SECRET-CONTENT"))
    }

    @Test func maildirFifoIsSkippedNotWaitedFor() async throws {
        let i = try await Installation()
        defer { i.tmp.remove() }
        let dir = try i.maildir("md")
        #expect(mkfifo(dir + "/new/1700000002.M3P1.host", 0o600) == 0)

        let r = try await i.swallow(["import", "--format", "maildir", "--user", "alice@example.test", dir])
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        #expect(r.stdout.contains("imported 1 messages into INBOX"), "\(r.stdout)")
        #expect(r.stderr.contains("1700000002.M3P1.host") && r.stderr.contains("skipped"), "\(r.stderr)")
    }

    @Test func mboxThatIsNotARegularFileIsRefused() async throws {
        let i = try await Installation()
        defer { i.tmp.remove() }
        let fifo = i.tmp.path + "/fifo.mbox"
        #expect(mkfifo(fifo, 0o600) == 0)
        let real = i.tmp.path + "/real.mbox"
        try "From a@b Thu Feb  1 10:00:00 2024\nSubject: x\n\nbody\n".write(toFile: real, atomically: false, encoding: .utf8)
        let link = i.tmp.path + "/link.mbox"
        #expect(symlink(real, link) == 0)

        for path in [fifo, link] {
            let r = try await i.swallow(["import", "--format", "mbox", "--user", "alice@example.test", path])
            #expect(r.status != 0 && r.status != SIGKILL, "\(path): exit \(r.status)")
            #expect(r.stderr.contains("not a regular file") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
    }

    @Test func exportRefusesADanglingSymlinkAtPath() async throws {
        let i = try await Installation()
        defer { i.tmp.remove() }
        for format in ["mbox", "maildir"] {
            let target = i.tmp.path + "/elsewhere-\(format)"
            let path = i.tmp.path + "/out-\(format)"
            #expect(symlink(target, path) == 0)
            let r = try await i.swallow(["export", "--format", format, "--user", "alice@example.test", path])
            #expect(r.status != 0, "\(format): export through a symlink succeeded")
            #expect(r.stderr.contains("already exists"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target), "\(format): created the link's target")
        }
    }

    @Test func exportRefusesAnExistingDirectoryAndWritesOwnerOnly() async throws {
        let i = try await Installation()
        defer { i.tmp.remove() }
        let dir = try i.maildir("md")
        var r = try await i.swallow(["import", "--format", "maildir", "--user", "alice@example.test", dir])
        #expect(r.status == 0, "\(r.stderr)")

        let existing = i.tmp.path + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        r = try await i.swallow(["export", "--format", "maildir", "--user", "alice@example.test", existing])
        #expect(r.status != 0 && r.stderr.contains("already exists"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing).isEmpty)

        let out = i.tmp.path + "/fresh"
        r = try await i.swallow(["export", "--format", "maildir", "--user", "alice@example.test", out])
        #expect(r.status == 0, "\(r.stderr)")
        var st = stat()
        #expect(lstat(out, &st) == 0 && st.st_mode & 0o7777 == 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: out + "/cur")
        #expect(files.count == 1)
        for f in files {
            #expect(lstat(out + "/cur/" + f, &st) == 0 && st.st_mode & 0o7777 == 0o600, "\(f)")
        }
        let mbox = i.tmp.path + "/fresh.mbox"
        r = try await i.swallow(["export", "--format", "mbox", "--user", "alice@example.test", mbox])
        #expect(r.status == 0 && lstat(mbox, &st) == 0 && st.st_mode & 0o7777 == 0o600, "\(r.stderr)")
    }
}
