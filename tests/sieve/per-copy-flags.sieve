# Flags belong to each copy (RFC 5232 §3-5): each fileinto/keep gets the flags of its own :flags, or
# the internal flag variable as it stood at that action; never those of another copy.
require ["fileinto", "imap4flags", "copy", "body"];

if header :contains "subject" ["password", "Passwort", "login"] {
    fileinto :copy :flags "\\Flagged" "Privacy";
    fileinto "Accounts";
    stop;
}
if header :contains "subject" ["certificate", "Zertifikat", "certificat"] {
    addflag "$Cert";
    fileinto :copy "Certificates";
    removeflag "$Cert";
    addflag "\\Answered";
    fileinto "Triage";
    stop;
}
if header :contains "subject" ["dispute", "arbitration", "Streitfall", "litige"] {
    fileinto :copy :flags ["\\Flagged", "$Case"] "Support/Disputes";
    keep;
    stop;
}
if header :contains "subject" ["account", "Konto", "compte"] {
    setflag "\\Seen";
    keep;
    removeflag "\\Seen";
    fileinto :copy "Archive";
    stop;
}
if exists "list-id" {
    fileinto :flags "\\Seen" "Lists";
    fileinto :copy :flags "$Listed" "Archive";
    stop;
}
if body :text :contains ["donation", "payment", "Spende", "paiement"] {
    keep :flags "$Payment";
    fileinto "Payments";
    fileinto :flags "\\Draft" "Payments";
    stop;
}
if header :contains "subject" "assurance" {
    addflag "$A";
    fileinto :copy "Assurance";
    addflag "$B";
    fileinto :copy "Assurance/Points";
    setflag "$C";
}
