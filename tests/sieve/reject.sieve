# reject refuses the message: no keep.
require "reject";
if header :is "X-Spam-Flag" "YES" {
    reject "Spam is not accepted here.";
} elsif size :over 100K {
    reject "Please do not send attachments larger than 100 KB.";
}
