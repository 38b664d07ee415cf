# :flags on fileinto and keep, and flags held in a user variable.
require ["imap4flags", "fileinto", "variables"];
set "marks" "$Support";
addflag "marks" "$Reviewed";
if header :contains "Subject" "dispute" {
    fileinto :flags "\\Flagged $Dispute" "Support/Disputes";
} elsif header :contains "Subject" "certificate" {
    fileinto :flags "${marks}" "Certificates";
    keep :flags "\\Seen";
} elsif hasflag "marks" "$Reviewed" {
    if address :localpart :contains "From" "a" {
        keep :flags ["\\Answered", "\\ANSWERED", "$x"];
    }
}
