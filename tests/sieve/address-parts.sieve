# address with :all / :localpart / :domain and :is / :contains / :matches.
require ["fileinto", "variables"];
if address :all :is "From" "alice.martin@example.com" {
    fileinto "Addr/alice";
} elsif address :localpart :contains "From" "." {
    fileinto "Addr/dotted";
} elsif address :domain :is "From" "TEST.EXAMPLE" {
    fileinto "Addr/test";
} elsif address :all :matches ["To", "Cc"] "*@lists.example.org" {
    fileinto "Addr/list";
} elsif address :localpart :matches "From" "?*" {
    fileinto "Addr/local-${1}";
}
