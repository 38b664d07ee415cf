# A global script named like a personal one: `include :global "lists"` must find this one.
require ["fileinto", "imap4flags"];
if header :contains "list-id" "support" {
    fileinto :flags "$GlobalList" "Lists/Global";
}
