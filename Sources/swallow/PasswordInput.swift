import Foundation
import MailAuth

#if canImport(Glibc)
import Glibc
#endif

/// Reads a new password: the first line of stdin (`--password-stdin`), or a prompt on the
/// terminal with echo off, asked twice.
enum PasswordInput {
    static let maxLength = PasswordHash.maxPasswordBytes

    static func read(fromStdin: Bool, confirm: Bool) throws -> String {
        let password: String
        if fromStdin {
            guard let line = readLine(strippingNewline: true) else { throw CLIError("no password on standard input") }
            password = line.hasSuffix("\r") ? String(line.dropLast()) : line
        } else {
            guard isatty(STDIN_FILENO) == 1 else {
                throw CLIError("standard input is not a terminal; pass the password with --password-stdin")
            }
            password = try prompt("Password: ")
            if confirm, try prompt("Repeat password: ") != password { throw CLIError("the passwords do not match") }
        }
        guard !password.isEmpty else { throw CLIError("the password is empty") }
        guard password.utf8.count <= maxLength else { throw CLIError("the password is longer than \(maxLength) bytes") }
        guard !password.utf8.contains(0) else { throw CLIError("the password contains a NUL byte") }
        return password
    }

    private static func prompt(_ text: String) throws -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw CLIError("no password entered") }
        return line
    }
}
