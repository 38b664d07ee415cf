# vacation with :days, :addresses, :subject, :from and :handle. Pigeonhole decides at
# execution whether a reply goes out (RFC 5230 4.5/4.6: not to lists, bounces,
# auto-submitted mail, or mail not addressed to us).
require ["vacation", "fileinto"];
if header :contains "Subject" "spam-never-matches-this" {
    discard;
}
if not header :contains "Subject" "dispute" {
    vacation :days 7 :addresses ["help@example.org", "triage@example.org"]
             :subject "The support desk received your message"
             :from "support@example.org" :handle "ack"
             "Thank you for writing to the support desk. A volunteer will answer within a day.";
}
