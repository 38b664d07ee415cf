# reject together with a store action is a run-time conflict in Pigeonhole
# ("reject/ereject action conflicts with other action"): the message is kept and the
# run reported as an error. Without a store, reject stands alone.
require ["reject", "fileinto"];
if header :contains "Subject" "password" {
    fileinto "Accounts";
    reject "Please use the password reset form.";
} elsif address :domain :is "From" "spam.test.example" {
    reject "Sender domain refused.";
}
