# Match variables from :matches: ${0} is the whole match, ${1}... the wildcards.
require ["variables", "fileinto"];
if header :matches "Subject" "*password*" {
    fileinto "Words/password";
} elsif header :matches "Subject" "Re: *" {
    set "rest" "${1}";
    if string :matches "${rest}" "?*" {
        fileinto "Replies/${1}";
    }
} elsif header :matches "Subject" "[*] *" {
    fileinto "Tagged";
} elsif address :matches :domain "From" "*.*" {
    fileinto "Domains/${2}";
}
