# Addresses with quoted or escaped local parts, and display names with commas.
require ["fileinto", "variables"];
if address :localpart :is "From" "john doe" {
    fileinto "Quoted/space";
} elsif address :localpart :contains "From" "\"" {
    fileinto "Quoted/escaped-quote";
} elsif address :localpart :contains "From" ".." {
    fileinto "Quoted/double-dot";
} elsif address :all :matches "From" "*@*" {
    if string :is "${2}" "example.net" { fileinto "Quoted/net"; }
}
