# header and exists: several headers at once, all must exist.
require "fileinto";
if exists ["Return-Path", "Delivered-To", "Message-ID"] {
    if exists "X-Priority" { fileinto "Priority"; }
} elsif not exists "Message-ID" {
    fileinto "No-Message-ID";
} elsif header :contains ["Return-Path", "From"] "<>" {
    fileinto "Null-Return-Path";
} else {
    fileinto "Partial-Envelope";
}
