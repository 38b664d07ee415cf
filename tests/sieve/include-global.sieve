# include :global from the global directory (Pigeonhole: sieve_global), beside a personal script of
# the same name.
require ["include", "fileinto"];
include :global "spam";
include :global "lists";
include :personal "lists";
if header :contains "subject" "certificate" {
    fileinto "Certificates";
}
