# Global include (from [rules] global_dir, Pigeonhole's sieve_global): spam and bounces.
require ["fileinto", "imap4flags"];
if header :is "X-Spam-Flag" "YES" {
    fileinto :flags "\\Seen" "Junk";
    stop;
}
if address :localpart :is "From" ["MAILER-DAEMON", "postmaster"] {
    fileinto :flags ["\\Seen", "$Bounce"] "Bounces";
}
