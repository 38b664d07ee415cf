# Variables in folder names and flags; empty and unset variables expand to "".
require ["variables", "fileinto", "imap4flags"];
set "base" "Sorted";
if header :matches "X-Spam-Score" "*.*" {
    set "whole" "${1}";
}
if string :is "${whole}" "" {
    fileinto "${base}/no-score${unset}";
} else {
    addflag "score-${whole}";
    fileinto "${base}/score";
}
