# include :once: a second include of the same script with :once does nothing; without it, the
# script runs again.
require ["include", "variables", "fileinto"];
global "count";
include :once "once";
if header :contains "subject" "password" {
    include :once "once";
}
if header :contains "subject" "certificate" {
    include "once";
}
if string :is "${count}" "x" {
    fileinto "Counted/Once";
} elsif string :is "${count}" "xx" {
    fileinto "Counted/Twice";
}
