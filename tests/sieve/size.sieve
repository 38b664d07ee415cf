# size :over / :under with K suffixes.
require "fileinto";
if size :over 100K {
    fileinto "Size/huge";
} elsif size :over 20K {
    fileinto "Size/big";
} elsif size :under 1000 {
    fileinto "Size/tiny";
} elsif not size :under 2K {
    fileinto "Size/medium";
}
