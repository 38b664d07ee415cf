# :copy on fileinto and redirect keeps the implicit keep; combined copies.
require ["copy", "fileinto"];
if header :contains "Subject" "password" {
    fileinto :copy "Accounts";
    redirect :copy "accounts@example.org";
} elsif header :contains "Subject" "assurance" {
    fileinto :copy "Assurance";
    fileinto "Assurance-Only";
} elsif header :contains "Subject" "certificate" {
    redirect :copy "certs@example.org";
    redirect :copy "certs@example.org";
}
