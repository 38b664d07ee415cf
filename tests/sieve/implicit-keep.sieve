# The implicit keep is cancelled by fileinto, discard and redirect, but not by
# fileinto :copy or redirect :copy.
require ["fileinto", "copy"];
if header :contains "Subject" "password" {
    fileinto :copy "Accounts";
} elsif header :contains "Subject" "certificate" {
    redirect :copy "certs@example.org";
} elsif header :contains "Subject" "assurance" {
    redirect "assurance@example.org";
} elsif exists "X-Spam-Flag" {
    discard;
} elsif header :contains "Subject" "dispute" {
    fileinto "Support/Disputes";
}
