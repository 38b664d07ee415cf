# :regex match variables: groups become ${1}, ${2}.
require ["regex", "variables", "fileinto"];
if header :regex "Subject" "(s20[0-9]{6})[.]([0-9]+)" {
    fileinto "Tickets/${1}-${2}";
} elsif header :regex "Subject" "(a20[0-9]{6}[.][0-9]+)" {
    fileinto "Cases/${1}";
} elsif header :regex "List-Id" "<([^.]+)[.]" {
    fileinto "ListId/${1}";
} elsif address :regex :domain "From" "^([a-z]+)[.]" {
    fileinto "Host/${1}";
}
