import MailAuth

/// One of a user's Sieve scripts (RFC 5804 LISTSCRIPTS): at most one is active.
public struct SieveScriptInfo: Sendable, Hashable {
    public let name: String
    public let active: Bool
    public let size: Int

    public init(name: String, active: Bool, size: Int) {
        self.name = name
        self.active = active
        self.size = size
    }
}

/// Where users' Sieve scripts and vacation's memory live. The store keeps text; callers parse
/// and check a script before `putSieveScript` (ManageSieve PUTSCRIPT, `swallow sieve put`).
public protocol SieveScriptStore: Sendable {
    /// Scripts per user and bytes per script (RFC 5804 HAVESPACE answers from these).
    static var maxSieveScripts: Int { get }
    static var maxSieveScriptBytes: Int { get }

    func sieveScripts(_ user: UserID) async throws(StoreError) -> [SieveScriptInfo]
    /// `.notFound` when there is no such script.
    func sieveScript(_ user: UserID, named name: String) async throws(StoreError) -> String
    /// The active script's name and text, nil when none is active.
    func activeSieveScript(_ user: UserID) async throws(StoreError) -> (name: String, source: String)?
    /// Creates or replaces; the active flag of a replaced script stays.
    func putSieveScript(_ user: UserID, named name: String, source: String) async throws(StoreError)
    /// Makes `name` the active script (nil: none active).
    func activateSieveScript(_ user: UserID, named name: String?) async throws(StoreError)
    /// The active script cannot be deleted (RFC 5804 §2.10: `NO (ACTIVE)`): `.notPermitted`.
    func deleteSieveScript(_ user: UserID, named name: String) async throws(StoreError)
    /// `.exists` when `to` is taken (RFC 5804 §2.11.1 `NO (ALREADYEXISTS)`).
    func renameSieveScript(_ user: UserID, from: String, to: String) async throws(StoreError)
    /// Vacation's memory (RFC 5230 §4.2): true, and remembered, when `sender` got no reply
    /// with `handle` from `user` in the last `period` seconds; false otherwise.
    func claimVacationReply(_ user: UserID, handle: String, sender: String, period: Int) async throws(StoreError) -> Bool
}

/// RFC 5804 §1.6: script names are UTF-8, 1 to 128 characters, no controls.
public enum SieveScriptName {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128
            && !name.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" }
    }
}
