# Header tests see RFC 2047-decoded text: encoded-words in ISO-8859-1 and UTF-8,
# adjacent words joined, broken words left alone.
require ["fileinto"];
if header :contains "Subject" "zurücksetzen" {
    fileinto "Dec/zuruecksetzen";
} elsif header :contains "Subject" "Lost password" {
    fileinto "Dec/joined";
} elsif header :contains "Subject" "Пароль" {
    fileinto "Dec/cyrillic";
} elsif header :contains "Subject" "=?" {
    fileinto "Dec/undecoded";
} elsif header :contains "From" "Ångström" {
    fileinto "Dec/name";
}
