# stop ends the script: later actions never happen, earlier ones stay.
require ["fileinto", "imap4flags"];
addflag "early";
if header :contains "Subject" "password" {
    fileinto "Accounts";
    stop;
}
addflag "late";
if header :contains "From" "example.net" {
    stop;
}
fileinto "Rest";
