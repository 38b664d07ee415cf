# redirect and redirect :copy; redirecting the same address twice sends once.
require ["copy"];
if header :contains "Subject" "dispute" {
    redirect "disputes@example.org";
    redirect "disputes@example.org";
} elsif header :contains "Subject" "payment" {
    redirect :copy "treasurer@example.org";
} elsif header :contains "Subject" "privacy" {
    redirect :copy "privacy@example.org";
    redirect "dpo@example.org";
}
