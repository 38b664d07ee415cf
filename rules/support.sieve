# Placeholder replaced by the shipped support desk rules.
require ["fileinto"];
fileinto "Triage";
