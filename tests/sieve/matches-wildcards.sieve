# :matches wildcards: Pigeonhole gives each * as little as possible, left to right,
# so "*: *" on "Re: Re: x" captures "Re"; ? is one octet, \\* a literal star.
require ["variables", "fileinto"];
if header :matches "Subject" "*: *" {
    fileinto "Wild/${1}";
} elsif header :matches "Subject" "??? *" {
    fileinto "Wild/three-${1}";
} elsif header :matches "X-Spam-Level" "\\**" {
    fileinto "Wild/stars";
}
