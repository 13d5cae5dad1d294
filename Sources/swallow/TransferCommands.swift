import ArgumentParser
import SwallowRuntime

extension MailTransfer.Format: ExpressibleByArgument {}

struct TransferOptions: ParsableArguments {
    @Option(help: "mbox or maildir.") var format: MailTransfer.Format
    @Option(help: "The account whose mail moves.") var user: String
    @Option(help: "One mailbox (default: INBOX for mbox; every mailbox of a Maildir++ tree for maildir).") var mailbox: String?
    @Argument(help: "The mbox file or Maildir directory.") var path: String
}

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Import one user's mail from mbox or Maildir.")
    @OptionGroup var options: ConfigOption
    @OptionGroup var transfer: TransferOptions

    func run() async throws {
        try await reporting {
            let report = try await MailTransfer(backend: options.backend())
                .importMail(format: transfer.format, user: transfer.user, mailbox: transfer.mailbox, path: transfer.path)
            for skipped in report.skipped { warn("skipped \(skipped)") }
            for (mailbox, n) in report.counts { say("imported \(n) messages into \(mailbox)") }
            if report.counts.isEmpty { say("no messages found in \(transfer.path)") }
        }
    }
}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export one user's mail to mbox or Maildir.")
    @OptionGroup var options: ConfigOption
    @OptionGroup var transfer: TransferOptions

    func run() async throws {
        try await reporting {
            let counts = try await MailTransfer(backend: options.backend())
                .exportMail(format: transfer.format, user: transfer.user, mailbox: transfer.mailbox, path: transfer.path)
            for (mailbox, n) in counts { say("exported \(n) messages from \(mailbox)") }
        }
    }
}
