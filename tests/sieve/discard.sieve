# discard cancels the implicit keep; a later keep brings it back.
require ["fileinto"];
if exists "X-Spam-Flag" {
    discard;
    if header :is "X-Spam-Flag" "NO" {
        keep;
    }
} elsif header :is "Precedence" "bulk" {
    discard;
    fileinto "Bulk-Anyway";
}
