# setflag / addflag / removeflag / hasflag on the internal variable; the flags at the
# time of each store action are the ones stored.
require ["imap4flags", "fileinto"];
setflag "\\Seen";
addflag ["$Triage", "\\flagged"];
if header :contains "Subject" "password" {
    removeflag "\\Flagged";
}
if hasflag :is "\\flagged" {
    fileinto "Flagged";
}
if hasflag :contains "$triage" {
    removeflag "\\seen";
    addflag "$Checked";
}
if not hasflag "\\Seen" {
    fileinto "Unseen";
}
