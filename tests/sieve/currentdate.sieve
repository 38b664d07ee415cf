# currentdate: comparisons that hold for years, combined with message dates.
require ["date", "relational", "fileinto"];
if currentdate :value "gt" "year" "2000" {
    if date :value "lt" "date" "year" "2021" {
        fileinto "Old";
    } elsif currentdate :zone "+0000" :value "le" "date" "2999-12-31" {
        fileinto "Current";
    }
}
if currentdate :value "lt" "year" "2000" {
    fileinto "Never";
}
