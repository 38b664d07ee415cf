# encoded-character: ${hex:...} and ${unicode:...} inside strings.
require ["encoded-character", "fileinto"];
if header :contains "Subject" "${unicode:00fc}" {
    fileinto "Enc/u-umlaut";
} elsif header :contains "Subject" "${hex:c3 a9}" {
    fileinto "Enc/e-acute";
} elsif header :contains "Subject" "${unicode:2013}" {
    fileinto "Enc/en-dash";
} elsif header :contains "From" "${hex:40}test.example" {
    fileinto "Enc/at-test";
}
