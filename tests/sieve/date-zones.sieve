# Obsolete zones (UT, Z, EST, GMT) and two-digit years in the Date header.
require ["date", "fileinto", "variables"];
if date :originalzone :is "date" "zone" "-0500" {
    fileinto "Zone/minus-five";
} elsif date :originalzone :is "date" "zone" "+0000" {
    if date :is "date" "year" "1999" { fileinto "Zone/utc-1999"; }
    else { fileinto "Zone/utc"; }
}
if header :contains "Subject" "Z zone" {
    fileinto "Zone/subject-survived";
}
