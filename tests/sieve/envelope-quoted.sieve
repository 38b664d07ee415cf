# Envelope address parts of a sender whose local part is quoted ("john doe"@example.com): Pigeonhole
# unquotes the local part for :localpart, :user and :detail, and keeps the quoted form for :all.
require ["envelope", "fileinto", "subaddress"];
if envelope :localpart :is "from" "john doe" {
    fileinto "Env/localpart-unquoted";
} elsif envelope :localpart :contains "from" "\"" {
    fileinto "Env/localpart-quoted";
}
if envelope :user :is "from" "john doe" {
    fileinto "Env/user";
}
if envelope :all :matches "from" "\"*\"@*" {
    fileinto "Env/all-quoted";
}
if envelope :domain :is "from" "example.com" {
    fileinto "Env/domain";
}
