# Bounces and auto-replies, the way RFC 3834 says to recognise them.
require ["fileinto", "envelope", "imap4flags"];
if header :contains "Content-Type" "multipart/report" {
    fileinto :flags "\\Seen" "Bounce/report";
} elsif address :localpart :is "From" "mailer-daemon" {
    fileinto "Bounce/daemon";
} elsif header :is "Auto-Submitted" "no" {
    fileinto "Auto/explicit-no";
} elsif header :matches "Auto-Submitted" "auto-*" {
    fileinto "Auto/submitted";
} elsif exists "X-Autoreply" {
    fileinto "Auto/x-autoreply";
}
