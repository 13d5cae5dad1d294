import Foundation
@testable import SwallowRuntime
import Testing

/// `swallow doctor` on the data directory: who owns each file and who may write it, with the
/// exact command that fixes each finding.
@Suite("Doctor")
struct DoctorTests {
    /// A data directory as `init` makes it, plus admin.sqlite, trace.sqlite and a DKIM key.
    func withDataDirectory(_ body: (SwallowConfiguration, String) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-doctor-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try await DataDirectory.initialize(.init(directory: dir, domain: "example.test"))
        for file in ["admin.sqlite", "trace.sqlite"] {
            #expect(FileManager.default.createFile(atPath: config.dataFile(file), contents: Data(), attributes: [.posixPermissions: 0o600]))
        }
        try FileManager.default.createDirectory(atPath: config.dkimDirectory + "/example.test", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        chmod(config.dkimDirectory, 0o700)
        #expect(FileManager.default.createFile(atPath: config.dkimDirectory + "/example.test/s1.pem", contents: Data(),
                                               attributes: [.posixPermissions: 0o600]))
        try await body(config, dir)
    }

    func problems(_ findings: [Doctor.Finding]) -> [String] {
        findings.filter { $0.level == .problem }.map { "\($0.what) | fix: \($0.fix ?? "")" }
    }

    @Test func ownersAndModesOfEveryDataFile() async throws {
        try await withDataDirectory { config, dir in
            let me = geteuid()
            #expect(problems(Doctor.dataDirectory(config, runningAs: me)) == [])
            #expect(Doctor.dataDirectory(config, runningAs: me).first?.what.contains("owners and permissions are right") == true)

            // Writable by the group or by everyone: each named with its chmod.
            let key = dir + "/dkim/example.test/s1.pem"
            chmod(dir + "/admin.sqlite", 0o620)
            chmod(dir + "/trace.sqlite", 0o606)
            chmod(key, 0o660)
            #expect(problems(Doctor.dataDirectory(config, runningAs: me)) == [
                "\(dir)/admin.sqlite is writable by its group | fix: chmod go-w '\(dir)/admin.sqlite'",
                "\(dir)/trace.sqlite is writable by everyone | fix: chmod go-w '\(dir)/trace.sqlite'",
                "\(dir)/trace.sqlite is readable by everyone | fix: chmod o-rwx '\(dir)/trace.sqlite'",
                "\(key) is writable by its group | fix: chmod go-w '\(key)'",
            ])
            for file in [dir + "/admin.sqlite", dir + "/trace.sqlite", key] { chmod(file, 0o600) }

            // Checked by a user who is not the owner (and not root): every file and directory is
            // someone else's, each with its chown.
            let other: uid_t = me == 4242 ? 4243 : 4242
            let name = Doctor.userName(other), owner = Doctor.userName(me)
            let wrong = problems(Doctor.dataDirectory(config, runningAs: other))
            for path in [dir, dir + "/swallow.sqlite", dir + "/admin.sqlite", dir + "/trace.sqlite", dir + "/dkim",
                         dir + "/dkim/example.test", key] {
                #expect(wrong.contains("\(path) belongs to \(owner), not \(name) | fix: chown \(name) '\(path)'"), "\(wrong)")
            }
        }
    }

    /// With `[server] user`, the files are that user's and the data directory root's (as
    /// `serve` started by root wants them).
    @Test func serviceUserOwnsTheFilesRootTheDirectory() async throws {
        try await withDataDirectory { config, dir in
            var config = config
            config.server.user = "nobody"
            guard let nobody = getpwnam("nobody")?.pointee.pw_uid, nobody != geteuid() else { return }
            let wrong = problems(Doctor.dataDirectory(config, runningAs: geteuid()))
            let owner = Doctor.userName(geteuid())
            for path in [dir + "/admin.sqlite", dir + "/trace.sqlite", dir + "/dkim/example.test/s1.pem"] {
                #expect(wrong.contains("\(path) belongs to \(owner), not nobody | fix: chown nobody '\(path)'"), "\(wrong)")
            }
            #expect(wrong.contains { $0.hasPrefix("\(dir) belongs") } == (geteuid() != 0), "\(wrong)")

            config.server.user = "no-such-user-for-swallow"
            #expect(problems(Doctor.dataDirectory(config, runningAs: geteuid())).first?.hasPrefix("server.user 'no-such-user-for-swallow' is not a user") == true)
        }
    }

    @Test func fixesQuoteThePathForTheShell() {
        #expect(Doctor.shellQuoted("/var/lib/it's mail") == #"'/var/lib/it'\''s mail'"#)
    }
}
