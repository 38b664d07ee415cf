# body :text: decoded text parts, case-insensitive by default.
require ["body", "fileinto"];
if body :text :contains "PASSWORD" {
    fileinto "Text/password";
} elsif body :text :contains ["Zertifikat", "certificat"] {
    fileinto "Text/cert-de-fr";
} elsif body :text :matches "*Regards*" {
    fileinto "Text/regards";
} elsif body :text :contains "résumé" {
    fileinto "Text/accented";
}
