# date with :regex (a real regular expression, not a glob) and iso8601 parts.
require ["date", "regex", "fileinto", "variables"];
if date :zone "+0000" :regex "date" "iso8601" "^20(19|20)-" {
    fileinto "DateRe/2019-2020";
} elsif date :zone "+0000" :regex "date" "month" "^(0[1-6])$" {
    fileinto "DateRe/first-half-${1}";
} elsif date :zone "+0000" :regex "date" "time" "^1[0-9]:" {
    fileinto "DateRe/afternoon";
}
