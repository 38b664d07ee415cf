# body :content restricted to MIME types.
require ["body", "fileinto"];
if body :content "text/html" :contains "<p>" {
    fileinto "Content/html";
} elsif body :content "message/delivery-status" :contains "Status: 5" {
    fileinto "Content/dsn-permanent";
} elsif body :content "text/plain" :contains "certificate" {
    fileinto "Content/plain-certificate";
} elsif body :content "image" :contains "" {
    fileinto "Content/image";
}
