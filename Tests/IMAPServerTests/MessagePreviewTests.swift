import Testing
@testable import IMAPServer

/// PREVIEW (RFC 8970 §2): the first readable text, as plain text.
struct MessagePreviewTests {
    func preview(_ message: String) -> String {
        MessagePreview.text(of: LoadedMessage(bytes: Array(message.utf8)))
    }

    @Test func plainTextCollapsedWithoutQuotes() {
        let m = "Subject: x\r\n\r\nHello   Bob,\r\n\r\n> quoted line\r\n>> more\r\nsee\tyou\r\n"
        #expect(preview(m) == "Hello Bob, see you")
    }

    @Test func decodedFromTransferEncodingAndCharset() {
        let m = "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n"
        #expect(preview(m) == "Grüße aus Köln")
    }

    @Test func plainPreferredOverHTMLAndAttachmentsSkipped() {
        let m = """
            Content-Type: multipart/mixed; boundary=outer\r
            \r
            --outer\r
            Content-Type: text/plain\r
            Content-Disposition: attachment; filename=a.txt\r
            \r
            attached text\r
            --outer\r
            Content-Type: multipart/alternative; boundary=alt\r
            \r
            --alt\r
            Content-Type: text/html\r
            \r
            <html><style>p{}</style><p>Hi&nbsp;<b>there</b></p></html>\r
            --alt\r
            Content-Type: text/plain\r
            \r
            Hi there\r
            --alt--\r
            --outer--\r

            """
        #expect(preview(m) == "Hi there")
        let htmlOnly = "Content-Type: text/html\r\n\r\n<html><head><style>body{color:red}</style></head><body><p>Hi&nbsp;<b>there</b> &amp; you</p><!-- x --></body></html>\r\n"
        #expect(preview(htmlOnly) == "Hi there & you")
    }

    @Test func boundedAndEmpty() {
        let long = "Subject: x\r\n\r\n" + String(repeating: "word ", count: 500) + "\r\n"
        #expect(preview(long).count == MessagePreview.maxCharacters)
        #expect(preview("Content-Type: image/png\r\n\r\niVBORw0KGgo=\r\n") == "")
    }
}
