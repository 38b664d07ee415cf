# List traffic by List-Id, Precedence and List-* headers.
require ["fileinto", "variables"];
if header :matches "List-Id" "*<*>*" {
    fileinto "List/${2}";
} elsif header :is "Precedence" ["list", "bulk", "junk"] {
    fileinto "List/precedence";
} elsif exists "List-Unsubscribe" {
    fileinto "List/unsubscribe-only";
}
