# vacation :mime with a MIME body, and keep alongside it.
require ["vacation", "imap4flags"];
if address :domain :is "From" ["example.com", "test.example"] {
    vacation :mime :days 1 text:
Content-Type: text/plain; charset=utf-8

Wir haben Ihre Nachricht erhalten. / We received your message.
.
;
    addflag "$Acked";
}
