import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// DESIGN.md §4 least privilege: as root, bind the ports, then become `[server] user`.
enum PrivilegeDrop {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func drop(to user: String, dataDirectory: String) throws {
        guard !user.isEmpty else { return }
        guard geteuid() == 0 else { return }  // not root: nothing to drop
        guard let entry = getpwnam(user) else { throw Failure(description: "server.user: no such user '\(user)'") }
        let uid = entry.pointee.pw_uid, gid = entry.pointee.pw_gid
        // The data directory and everything in it must be the service user's, or it could not
        // write its database after the switch. Owner-only modes stay as they are.
        if let walker = FileManager.default.enumerator(atPath: dataDirectory) {
            chown(dataDirectory, uid, gid)
            for case let name as String in walker { chown(dataDirectory + "/" + name, uid, gid) }
        }
        guard setgroups(0, nil) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw Failure(description: "server.user: cannot switch to '\(user)': \(String(cString: strerror(errno)))")
        }
        guard setuid(0) != 0 else { throw Failure(description: "server.user: privileges could be regained after dropping") }
    }
}
