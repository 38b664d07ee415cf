# i;octet is case-sensitive, i;ascii-casemap is not, i;ascii-numeric compares numbers.
require ["fileinto", "comparator-i;ascii-numeric"];
if header :is :comparator "i;octet" "X-Spam-Flag" "YES" {
    fileinto "Cmp/octet-YES";
} elsif header :is :comparator "i;ascii-casemap" "X-Spam-Flag" "yes" {
    fileinto "Cmp/casemap-yes";
} elsif header :is :comparator "i;ascii-numeric" "X-Priority" "3" {
    fileinto "Cmp/priority-3";
} elsif header :contains :comparator "i;octet" "Subject" "Password" {
    fileinto "Cmp/octet-Password";
} elsif header :is :comparator "i;ascii-numeric" "X-Spam-Score" "0.9" {
    fileinto "Cmp/numeric-prefix-0";
}
