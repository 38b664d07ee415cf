# Included with :once from two places; runs once per message.
require ["include", "fileinto", "imap4flags", "copy", "variables"];
global "count";
set "count" "${count}x";
fileinto :copy :flags "$Once${count}" "Once";
