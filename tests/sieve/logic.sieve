# anyof / allof / not, nested.
require "fileinto";
if allof (address :domain :is "From" "example.com",
          anyof (header :contains "Subject" "password", header :contains "Subject" "assurance")) {
    fileinto "Logic/com-topic";
} elsif not anyof (exists "Return-Path", exists "Delivered-To") {
    fileinto "Logic/no-envelope-headers";
} elsif allof (not exists "List-Id", not exists "X-Spam-Flag", true) {
    fileinto "Logic/personal";
} elsif anyof (false, header :contains "Subject" "[") {
    fileinto "Logic/bracket";
}
