# fileinto into several folders, and into the same folder twice (stored once).
require "fileinto";
if header :contains "Subject" "password" {
    fileinto "Accounts";
    fileinto "Archive";
    fileinto "Accounts";
}
if header :contains "Subject" "certificate" {
    fileinto "Certificates";
    fileinto "Certificates";
}
