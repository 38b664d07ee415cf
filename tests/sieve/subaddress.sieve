# subaddress :user and :detail on the envelope recipient and on To.
require ["subaddress", "envelope", "fileinto", "variables"];
if envelope :detail :matches "to" "?*" {
    set :lower "d" "${0}";
    fileinto "Detail/${d}";
} elsif envelope :detail :is "to" "" {
    fileinto "Detail/empty";
} elsif address :user :is "To" "support" {
    if address :detail :is "To" "" { fileinto "User/support-empty-detail"; }
} elsif address :user :is "To" "help" {
    fileinto "User/help";
}
