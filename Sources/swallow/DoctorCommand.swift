import ArgumentParser
import Foundation
import SwallowRuntime

/// `swallow doctor`: checks and what to fix; exit status 1 when a problem was found.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor", abstract: "Check the configuration, certificate, listeners, data directory and DNS; say what to fix.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        var problems = 0
        try await reporting {
            let config = try options.load()
            let domains = try await Backend.open(config).directory.listDomains()
            var findings = await Doctor.check(config, domains: domains)
            for (name, addresses) in config.listen.all where !addresses.isEmpty {
                for address in addresses where address.port != 0 {
                    let up = await StatusCommand.answers(address.reachable)
                    findings.append(Doctor.Finding(level: up ? .ok : .warning, what: "\(name) on \(address) \(up ? "answers" : "does not answer")",
                                                   fix: up ? nil : "start the server: swallow serve"))
                }
            }
            for f in findings {
                say("\(f.level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(f.what)" + (f.fix.map { "\n        fix: \($0)" } ?? ""))
                if f.level == .problem { problems += 1 }
            }
            say(problems == 0 ? "no problems found" : "\(problems) problem(s) to fix")
        }
        if problems > 0 { throw ExitCode(1) }
    }
}
