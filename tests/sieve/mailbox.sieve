# mailboxexists against the known mailbox list, and fileinto :create.
require ["mailbox", "fileinto"];
if mailboxexists ["Support/Disputes", "Junk"] {
    if header :contains "Subject" "dispute" {
        fileinto "Support/Disputes";
    } elsif mailboxexists "Accounts" {
        fileinto "Accounts";
    } elsif header :contains "Subject" "password" {
        fileinto :create "Accounts";
    }
}
if mailboxexists "archive" {
    fileinto "archive-lowercase-exists";
}
