import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SwallowRuntime

/// `swallow status`: the listeners and whether they answer, the certificate's fingerprint and
/// the mail client settings, as `serve` printed them at start.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Listeners (and whether they answer), certificate fingerprint, mail client settings.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await reporting {
            let config = try options.load()
            say("\(config.server.hostname), data in \(config.dataDirectory.path)")
            var answering = 0
            for (name, addresses) in config.listen.all where !addresses.isEmpty {
                for address in addresses {
                    let up = address.port != 0 ? await Self.answers(address.reachable) : nil
                    if up == true { answering += 1 }
                    say("\(name) on \(address): \(up.map { $0 ? "answering" : "not answering" } ?? "port chosen at start")")
                }
            }
            if answering == 0 { say("the server does not seem to be running ('swallow serve')") }
            for line in ServerSummary(configuration: config).lines { say(line) }
        }
    }

    static func answers(_ address: HostPort) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(1)).connect(host: address.host, port: address.port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
