# relational :value against numbers (i;ascii-numeric) and strings (i;ascii-casemap).
require ["relational", "comparator-i;ascii-numeric", "fileinto"];
if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5" {
    fileinto "Value/spam-score";
} elsif header :value "lt" :comparator "i;ascii-numeric" "X-Priority" "3" {
    fileinto "Value/high-priority";
} elsif header :value "gt" "Subject" "S" {
    fileinto "Value/subject-after-s";
} elsif header :value "eq" :comparator "i;ascii-numeric" "X-Spam-Score" "0" {
    fileinto "Value/score-zero";
}
