# relational :count with i;ascii-numeric: how many addresses and headers.
require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if address :count "ge" :comparator "i;ascii-numeric" ["To", "Cc"] "3" {
    fileinto "Count/many-recipients";
} elsif header :count "ge" :comparator "i;ascii-numeric" "Received" "3" {
    fileinto "Count/three-hops";
} elsif header :count "eq" :comparator "i;ascii-numeric" "Subject" "2" {
    fileinto "Count/two-subjects";
} elsif header :count "eq" :comparator "i;ascii-numeric" "Received" "1" {
    fileinto "Count/one-hop";
}
