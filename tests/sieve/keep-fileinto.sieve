# An explicit keep next to fileinto: the message is stored in INBOX and in the folder.
require "fileinto";
if address :domain :is "From" "example.com" {
    keep;
    fileinto "From-Com";
} elsif address :domain :is "From" "example.net" {
    fileinto "From-Net";
    fileinto "INBOX";
}
