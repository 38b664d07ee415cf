# date with date parts, :zone and :originalzone.
require ["date", "relational", "fileinto", "variables"];
if date :originalzone :is "date" "zone" "+0000" {
    fileinto "Date/utc-sender";
} elsif date :zone "+0000" :value "lt" "date" "year" "2021" {
    fileinto "Date/before-2021";
} elsif date :zone "-0800" :is "date" "weekday" "0" {
    fileinto "Date/sunday-pacific";
} elsif date :originalzone :matches "date" "hour" "0*" {
    fileinto "Date/morning-${1}";
} elsif date :zone "+0100" :value "ge" "date" "date" "2024-01-01" {
    fileinto "Date/recent";
}
