# Personal include: mailing-list traffic, flagged per copy.
require ["fileinto", "imap4flags", "copy"];
if exists "list-id" {
    fileinto :copy :flags "\\Seen" "Lists";
}
