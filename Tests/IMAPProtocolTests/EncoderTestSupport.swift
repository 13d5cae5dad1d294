import Testing
@testable import IMAPProtocol

/// Encodes a response with the IMAP4rev1 (no UTF-8) or IMAP4rev2 rules, as a String for readable
/// comparisons (the tests only use valid UTF-8).
func wire(_ response: IMAPResponse, utf8: Bool = false) -> String {
    String(decoding: IMAPEncoder(utf8: utf8).encode(response), as: UTF8.self)
}

func wire(_ data: UntaggedResponse, utf8: Bool = false) -> String {
    wire(.untagged(data), utf8: utf8)
}
