# Pigeonhole allows at most 4 redirects per message by default (sieve_max_redirects);
# a fifth is a run-time error and the message is kept.
if header :contains "Subject" "dispute" {
    redirect "cm1@example.org";
    redirect "cm2@example.org";
    redirect "cm3@example.org";
    redirect "cm4@example.org";
    redirect "cm5@example.org";
} elsif header :contains "Subject" "password" {
    redirect "a1@example.org";
    redirect "a2@example.org";
}
