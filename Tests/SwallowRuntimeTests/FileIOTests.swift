import Foundation
import SwallowRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Durable file writes")
struct FileIOTests {
    /// A link planted where the temporary file used to go (its name was predictable: the PID)
    /// must not be followed: as root that wrote through to any file the link named. (The name
    /// now also has a random part; `newFileRefusesAPlantedLink` tests the refusal itself.)
    @Test func temporaryFileNeverFollowsAPlantedLink() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-fileio-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let path = dir + "/out"
        #expect(symlink(victim, path + ".tmp-\(getpid())") == 0)

        try FileIO.writeAtomically(Array("new content\n".utf8), to: path, mode: 0o600)

        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new content\n")
        var st = stat()
        #expect(lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o7777 == 0o600)
    }

    /// The mechanism under the temporary file (and every file Swallow creates): a name where
    /// anything stands, a link most of all, is refused, and the link's target is untouched.
    @Test func newFileRefusesAPlantedLink() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-fileio-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        #expect(symlink(victim, dir + "/planted") == 0)
        #expect(symlink(dir + "/nowhere", dir + "/dangling") == 0)
        for name in ["planted", "dangling", "victim"] {
            #expect(throws: FileIO.Failure.self, "\(name)") { _ = try FileIO.NewFile(creating: dir + "/" + name, mode: 0o600) }
        }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/nowhere"))
    }
}
