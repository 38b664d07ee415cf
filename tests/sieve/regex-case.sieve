# :regex under the default comparator i;ascii-casemap ignores case (RFC 5228 2.7.3;
# Pigeonhole compiles the expression with REG_ICASE). Lower-case patterns here meet
# mixed-case subjects.
require ["regex", "fileinto"];
if header :regex "Subject" "^lost pass" {
    fileinto "Regex/lost";
} elsif header :regex "Subject" "certificate|zertifikat" {
    fileinto "Regex/cert";
} elsif header :regex :comparator "i;octet" "Subject" "^Re:" {
    fileinto "Regex/re-octet";
} elsif header :regex "From" "mailer-daemon" {
    fileinto "Regex/daemon";
}
