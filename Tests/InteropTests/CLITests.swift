import Foundation
import Testing

/// The command line as an administrator uses it (issue 2's "done when").
@Suite("swallow CLI", .serialized)
struct CLITests {
    @Test func initUsersAliasesAndNoClearPasswords() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let data = tmp.path + "/data"
        let config = ["--config", data + "/swallow.toml"]

        var r = try await Run.swallow(["init", "--data", data, "--domain", "example.test"])
        #expect(r.status == 0, "\(r.stderr)")
        for file in ["swallow.toml", "swallow.sqlite", "cert.pem", "key.pem"] {
            #expect(FileManager.default.fileExists(atPath: data + "/" + file), "\(file)")
        }
        r = try await Run.swallow(["user", "add", "alice@example.test", "--password-stdin"] + config, stdin: "s3cret-Pässword\n")
        #expect(r.status == 0, "\(r.stderr)")
        r = try await Run.swallow(["user", "add", "bob@Example.Test", "--password-stdin", "--quota", "10M"] + config, stdin: "hunter2\n")
        #expect(r.status == 0, "\(r.stderr)")
        r = try await Run.swallow(["user", "list"] + config)
        #expect(r.stdout.contains("alice@example.test") && r.stdout.contains("bob@example.test") && r.stdout.contains("10.0 MiB"))

        // The database holds hashes, never the password.
        let db = try Data(contentsOf: URL(fileURLWithPath: data + "/swallow.sqlite"))
            + ((try? Data(contentsOf: URL(fileURLWithPath: data + "/swallow.sqlite-wal"))) ?? Data())
        #expect(db.range(of: Data("s3cret-Pässword".utf8)) == nil)
        #expect(db.range(of: Data("hunter2".utf8)) == nil)
        #expect(db.range(of: Data("$y$".utf8)) != nil, "yescrypt hash stored")

        r = try await Run.swallow(["alias", "add", "team@example.test", "alice@example.test", "bob@example.test"] + config)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await Run.swallow(["alias", "add", "@example.test", "alice@example.test"] + config)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await Run.swallow(["alias", "list"] + config)
        #expect(r.stdout == "@example.test\talice@example.test\nteam@example.test\talice@example.test, bob@example.test\n")

        r = try await Run.swallow(["domain", "add", "other.test"] + config)
        #expect(r.status == 0)
        r = try await Run.swallow(["domain", "list"] + config)
        #expect(r.stdout == "example.test\nother.test\n")
        r = try await Run.swallow(["user", "passwd", "alice@example.test", "--password-stdin"] + config, stdin: "new-password\n")
        #expect(r.status == 0, "\(r.stderr)")
        r = try await Run.swallow(["user", "remove", "bob@example.test"] + config)
        #expect(r.status == 0, "\(r.stderr)")
        r = try await Run.swallow(["domain", "remove", "other.test"] + config)
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// Each bad input: one line on stderr, a non-zero exit, nothing changed.
    @Test func badInputIsOneLineAndNonZero() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let data = tmp.path + "/data"
        let config = ["--config", data + "/swallow.toml"]
        _ = try await Run.swallow(["init", "--data", data, "--domain", "example.test"])
        _ = try await Run.swallow(["user", "add", "alice@example.test", "--password-stdin"] + config, stdin: "pw\n")

        let cases: [([String], String?, String)] = [
            (["user", "add", "alice@EXAMPLE.test", "--password-stdin"] + config, "pw\n", "already exists"),
            (["user", "add", "carol@unknown.test", "--password-stdin"] + config, "pw\n", "not a local domain"),
            (["user", "add", "not-an-address", "--password-stdin"] + config, "pw\n", "invalid address"),
            (["user", "add", "dave@example.test", "--password-stdin"] + config, "\n", "password is empty"),
            (["user", "add", "dave@example.test"] + config, nil, "--password-stdin"),
            (["user", "passwd", "nobody@example.test", "--password-stdin"] + config, "x\n", "no such user"),
            (["domain", "add", "bad_domain!"] + config, nil, "invalid domain"),
            (["domain", "remove", "example.test"] + config, nil, "still has 1 account"),
            (["alias", "remove", "nothing@example.test"] + config, nil, "no such alias"),
            (["alias", "add", "x@nowhere.test", "alice@example.test"] + config, nil, "not a local domain"),
            (["init", "--data", data, "--domain", "example.test"], nil, "already exists"),
            (["domain", "list", "--config", tmp.path + "/missing.toml"], nil, "no configuration"),
            (["import", "--format", "mbox", "--user", "alice@example.test", tmp.path + "/nope.mbox"] + config, nil, "cannot open"),
            (["import", "--format", "mbox", "--user", "ghost@example.test", tmp.path + "/nope.mbox"] + config, nil, "no such user"),
        ]
        for (arguments, stdin, expected) in cases {
            let r = try await Run.swallow(arguments, stdin: stdin)
            #expect(r.status != 0, "\(arguments) exited 0")
            #expect(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(arguments): more than one line: \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"), "\(arguments) crashed")
        }
        let users = try await Run.swallow(["user", "list"] + config)
        #expect(users.stdout.split(separator: "\n").count == 1, "nothing added: \(users.stdout)")

        // A broken config file: one line naming the file and the key.
        try "[listen]\nsmtp = [\"0.0.0.0:70000\"]\n".write(toFile: tmp.path + "/bad.toml", atomically: true, encoding: .utf8)
        let r = try await Run.swallow(["domain", "list", "--config", tmp.path + "/bad.toml"])
        #expect(r.status != 0)
        #expect(r.stderr == "swallow: error: \(tmp.path)/bad.toml: listen.smtp: '0.0.0.0:70000' is not a valid host:port\n")
    }

    /// An mbox exported after importing one holds the same messages, byte for byte; a corrupt
    /// mbox is refused and stores nothing.
    @Test func mboxAndMaildirRoundTrip() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let data = tmp.path + "/data"
        let config = ["--config", data + "/swallow.toml"]
        _ = try await Run.swallow(["init", "--data", data, "--domain", "example.test"])
        _ = try await Run.swallow(["user", "add", "alice@example.test", "--password-stdin"] + config, stdin: "pw\n")

        // Python's mailbox module writes the mbox: a writer nobody here wrote.
        let mboxPath = tmp.path + "/in.mbox"
        let script = """
            import mailbox, email.message, sys
            box = mailbox.mbox(sys.argv[1])
            for i in range(25):
                m = email.message.EmailMessage()
                m['From'] = 'Sender %d <s%d@remote.test>' % (i, i)
                m['To'] = 'alice@example.test'
                m['Subject'] = 'Message %d caf\\u00e9' % i
                m.set_content('Hello %d\\nFrom the start of a line\\n>From quoted\\n.\\n..dots\\n' % i + 'x' * (i * 50))
                if i % 5 == 0:
                    m.add_attachment(bytes(range(256)) * 4, maintype='application', subtype='octet-stream', filename='b.bin')
                box.add(m)
            box.flush()
            """
        let py = try await Run.program("/usr/bin/env", ["python3", "-c", script, mboxPath])
        #expect(py.status == 0, "\(py.stderr)")

        var r = try await Run.swallow(["import", "--format", "mbox", "--user", "alice@example.test", mboxPath] + config)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("imported 25 messages into INBOX"))
        r = try await Run.swallow(["export", "--format", "mbox", "--user", "alice@example.test", tmp.path + "/out.mbox"] + config)
        #expect(r.status == 0, "\(r.stderr)")

        let compare = """
            import mailbox, sys
            a = [m.as_bytes() for m in mailbox.mbox(sys.argv[1])]
            b = [m.as_bytes() for m in mailbox.mbox(sys.argv[2])]
            assert len(a) == len(b) == 25, (len(a), len(b))
            for i, (x, y) in enumerate(zip(a, b)):
                assert x == y, i
            print("same")
            """
        let same = try await Run.program("/usr/bin/env", ["python3", "-c", compare, mboxPath, tmp.path + "/out.mbox"])
        #expect(same.stdout == "same\n", "\(same.stderr)")
        // Byte for byte: the message bodies in both files are identical (the From_ lines carry
        // the sender and date, which the mbox format does not tie to the message).
        let original = try String(contentsOfFile: mboxPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("From ") }
        let exported = try String(contentsOfFile: tmp.path + "/out.mbox", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("From ") }
        #expect(original == exported)

        // Maildir out and back in, into another mailbox.
        r = try await Run.swallow(["export", "--format", "maildir", "--user", "alice@example.test", "--mailbox", "INBOX", tmp.path + "/md"] + config)
        #expect(r.status == 0, "\(r.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: tmp.path + "/md/cur")
        #expect(files.count == 25)
        r = try await Run.swallow(["import", "--format", "maildir", "--user", "alice@example.test", "--mailbox", "Restored", tmp.path + "/md"] + config)
        #expect(r.stdout.contains("imported 25 messages into Restored"), "\(r.stderr)")
        r = try await Run.swallow(["export", "--format", "mbox", "--user", "alice@example.test", "--mailbox", "Restored", tmp.path + "/restored.mbox"] + config)
        let again = try await Run.program("/usr/bin/env", ["python3", "-c", compare, mboxPath, tmp.path + "/restored.mbox"])
        #expect(again.stdout == "same\n", "\(again.stderr)")

        // A corrupt mbox: refused, one line, nothing stored.
        try "This is not an mbox\nFrom someone\n".write(toFile: tmp.path + "/bad.mbox", atomically: true, encoding: .utf8)
        r = try await Run.swallow(["import", "--format", "mbox", "--user", "alice@example.test", "--mailbox", "Bad", tmp.path + "/bad.mbox"] + config)
        #expect(r.status != 0)
        #expect(r.stderr.contains("bad.mbox") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        r = try await Run.swallow(["user", "list"] + config)
        #expect(r.stdout.contains("\t50 messages"), "\(r.stdout)")
    }

    /// `serve` with no config creates ./swallow-data and stops cleanly on SIGTERM.
    @Test func serveCreatesDefaultsAndStopsOnSIGTERM() async throws {
        let tmp = try TemporaryDirectory()
        defer { tmp.remove() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Run.swallowPath)
        process.arguments = ["serve"]
        process.currentDirectoryURL = URL(fileURLWithPath: tmp.path)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = ""
        let deadline = Date().addingTimeInterval(30)
        while !seen.contains("running"), Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        #expect(seen.contains("created ./swallow-data/swallow.toml"), "\(seen)")
        #expect(FileManager.default.fileExists(atPath: tmp.path + "/swallow-data/cert.pem"))
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let config = try String(contentsOfFile: tmp.path + "/swallow-data/swallow.toml", encoding: .utf8)
        #expect(config.contains("127.0.0.1:"))
        #expect(!config.contains("0.0.0.0"))
    }

    /// `swallow demo`: two domains on loopback, a message across, every hop (issue 5).
    @Test func demoRunsEndToEnd() async throws {
        let r = try await Run.swallow(["demo"])
        #expect(r.status == 0, "\(r.stderr)")
        for hop in ["[1] Submission", "[2] Queue", "[3] Next hop", "[4] Remote acceptance", "[5] Delivery",
                    "[6] Retrieval over IMAP", "[7] Retrieval over POP3", "Done in"] {
            #expect(r.stdout.contains(hop), "missing \(hop):\n\(r.stdout)")
        }
        #expect(r.stdout.contains("c OK Fetch completed"))
        #expect(r.stdout.contains("+OK 1 "))
    }
}
