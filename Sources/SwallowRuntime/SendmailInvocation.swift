/// The command line of `/usr/sbin/sendmail` as cron, PHP's `mail()`, mailx/s-nail and logwatch
/// use it (sendmail(8), Postfix's sendmail(1)): parsed without I/O, so each form is tested.
///
/// Options may be attached (`-fsender`, `-F"Full Name"`) or separate (`-f sender`); several
/// letter options do not combine (`-oi` is one option, as in sendmail).
public struct SendmailInvocation: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        /// Read a message on standard input and queue it (the default, `-bm`).
        case deliver
        /// SMTP on standard input and output (`-bs`).
        case smtp
        /// List the queue (`-bp`, also `mailq`).
        case listQueue
    }

    public var mode: Mode = .deliver
    /// `-t`: recipients from To, Cc and Bcc, added to those on the command line (as Postfix does).
    public var recipientsFromHeaders = false
    /// `-i` / `-oi`: a line of one dot does not end the message.
    public var ignoreDots = false
    /// `-f` / `-r`: the envelope sender; nil: the invoking user at our host name.
    public var sender: String?
    /// `-F`: the full name for a `From:` header we add.
    public var fullName: String?
    /// `-N`: RFC 3461 NOTIFY for every recipient; `-R`: RET; `-V`: ENVID.
    public var notify: String?
    public var ret: String?
    public var envelopeID: String?
    public var recipients: [String] = []
    /// `--config PATH` (Swallow's own option, accepted anywhere before `--`).
    public var config: String?

    public struct UsageError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init() {}

    /// Options accepted and ignored, with whether they take a value: delivery mode (`-od*`),
    /// error mode (`-oe*`), `-om`, `-v`, and the old configuration options (sendmail(8)).
    private static func ignored(_ option: String) -> Bool {
        option.hasPrefix("-od") || option.hasPrefix("-oe") || option == "-om" || option == "-v" || option == "-m"
            || option.hasPrefix("-oQ") || option.hasPrefix("-oA") || option == "-n" || option == "-U" || option == "-Am"
            || option == "-Ac" || option == "-bm" || option == "-G" || option == "-em" || option == "-ep" || option == "-eq"
    }

    public static func parse(_ arguments: [String]) throws(UsageError) -> SendmailInvocation {
        var result = SendmailInvocation()
        var i = 0
        func value(_ option: String, _ argument: String) throws(UsageError) -> String {
            let attached = String(argument.dropFirst(option.count))
            if !attached.isEmpty { return attached }
            i += 1
            guard i < arguments.count else { throw UsageError(description: "option \(option) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" {
                result.recipients += arguments[(i + 1)...]
                break
            }
            if a == "--config" || a.hasPrefix("--config=") {
                result.config = a == "--config" ? try value("--config", a) : String(a.dropFirst("--config=".count))
            } else if !a.hasPrefix("-") || a == "-" {
                result.recipients.append(a)
            } else if a == "-t" {
                result.recipientsFromHeaders = true
            } else if a == "-i" || a == "-oi" {
                result.ignoreDots = true
            } else if a == "-bs" {
                result.mode = .smtp
            } else if a == "-bp" {
                result.mode = .listQueue
            } else if a.hasPrefix("-f") {
                result.sender = try value("-f", a)
            } else if a.hasPrefix("-r") {
                result.sender = try value("-r", a)
            } else if a.hasPrefix("-F") {
                result.fullName = try value("-F", a)
            } else if a.hasPrefix("-N") {
                result.notify = try value("-N", a)
            } else if a.hasPrefix("-R") {
                result.ret = try value("-R", a)
            } else if a.hasPrefix("-V") {
                result.envelopeID = try value("-V", a)
            } else if a.hasPrefix("-B") || a.hasPrefix("-C") || a.hasPrefix("-L") || a.hasPrefix("-O") || a.hasPrefix("-X") {
                // Body type, alternate config file, syslog label, option=value, traffic log:
                // each takes a value we do not need.
                _ = try value(String(a.prefix(2)), a)
            } else if ignored(a) {
                // Accepted for compatibility; nothing to do.
            } else if a.hasPrefix("-b") {
                throw UsageError(description: "mode \(a) is not supported (only -bm, -bs and -bp)")
            } else {
                throw UsageError(description: "unknown option \(a)")
            }
            i += 1
        }
        if result.mode == .deliver && result.recipients.isEmpty && !result.recipientsFromHeaders {
            throw UsageError(description: "no recipients: give addresses or -t")
        }
        return result
    }
}
