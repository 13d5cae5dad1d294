import Foundation
import SwallowRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Durable file writes")
struct FileIOTests {
    /// A link planted where the temporary file goes (its name was predictable: the PID) must not
    /// be followed: as root that wrote through to any file the link named.
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
}
