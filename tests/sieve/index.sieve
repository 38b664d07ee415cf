# index :index / :last on repeated Received headers and dates.
require ["index", "date", "relational", "fileinto"];
if header :index 1 :contains "Received" "mx2.example.net" {
    fileinto "Index/first-mx2";
} elsif header :index 2 :last :contains "Received" "mx1.example.net" {
    fileinto "Index/second-last-mx1";
} elsif date :index 1 :last :zone "+0000" :value "lt" "received" "year" "2021" {
    fileinto "Index/old-last-hop";
} elsif header :index 2 :contains "Subject" "" {
    fileinto "Index/second-subject";
}
