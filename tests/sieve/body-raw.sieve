# body :raw sees the undecoded body: quoted-printable soft breaks and base64 text.
require ["body", "fileinto"];
if body :raw :contains "=\r\n" {
    fileinto "Raw/qp-softbreak-crlf";
} elsif body :raw :contains "=\n" {
    fileinto "Raw/qp-softbreak";
} elsif body :raw :contains "SGVsbG8" {
    fileinto "Raw/base64-hello";
} elsif body :raw :matches "*Content-Type: message/rfc822*" {
    fileinto "Raw/rfc822";
}
