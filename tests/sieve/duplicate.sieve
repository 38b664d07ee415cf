# duplicate: every message is evaluated with no history, so nothing is a duplicate;
# the :header / :uniqueid forms still must parse and run.
require ["duplicate", "fileinto", "variables"];
if duplicate {
    fileinto "Dup/default";
} elsif duplicate :header "Subject" :seconds 3600 {
    fileinto "Dup/subject";
} elsif header :matches "Message-ID" "*" {
    if duplicate :uniqueid "${1}" :handle "mid" { fileinto "Dup/uniqueid"; }
    else { fileinto "Dup/fresh"; }
}
