# envelope with :all, :localpart and :domain, for "from" and "to".
require ["envelope", "fileinto", "variables"];
if envelope :all :is "to" "support@example.org" {
    if envelope :domain :is "from" "example.com" {
        fileinto "Env/com";
    } elsif envelope :localpart :contains "from" "bounces" {
        fileinto "Env/list-bounce";
    } elsif envelope :domain :matches "from" "*.example" {
        fileinto "Env/${1}-tld";
    }
} elsif envelope :localpart :matches "to" "support+*" {
    fileinto "Env/detail";
} else {
    fileinto "Env/other-recipient";
}
