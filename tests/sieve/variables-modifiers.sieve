# set with modifiers (:lower, :upper, :lowerfirst, :upperfirst, :quotewildcard, :length).
require ["variables", "fileinto", "relational", "comparator-i;ascii-numeric"];
if header :matches "From" "*@*" {
    set :lower "dom" "${2}";
    set :upperfirst "who" "${1}";
}
set :length "len" "${dom}";
set :upper "shout" "support";
set :quotewildcard "q" "a*b?c";
set :lower :upperfirst "cap" "HELLO";
if string :is "${q}" "a\\*b\\?c" {
    if string :value "gt" :comparator "i;ascii-numeric" "${len}" "12" {
        fileinto "${shout}/${cap}/Long";
    } else {
        fileinto "${shout}/${cap}/Short";
    }
}
