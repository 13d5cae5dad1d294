import Foundation
import Sieve

extension Runtime {
    /// `[sieve] before`: read and checked at start, so that a broken global script stops the
    /// server with its line and column instead of failing at every delivery.
    static func globalSieveScript(_ path: String, config: SwallowConfiguration) throws(ConfigurationError) -> SieveScript {
        let source: String
        do {
            source = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: config.sourcePath, key: "sieve.before", message: "cannot read '\(path)': \(error.localizedDescription)")
        }
        do {
            return try SieveScript(parsing: source)
        } catch {
            throw ConfigurationError(file: config.sourcePath, key: "sieve.before", message: "\(path): \(error)")
        }
    }
}
