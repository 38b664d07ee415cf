# include :personal from the include directory (Pigeonhole: the user's sieve directory).
require ["include", "fileinto", "imap4flags"];
include :personal "lists";
include :personal :optional "no-such-script";
if header :contains "subject" "password" {
    fileinto :flags "\\Flagged" "Accounts";
}
