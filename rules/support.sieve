# rules/support.sieve: sorts the community CA's support@ mailbox into the team's buckets.
#
# Buckets (folders), in the order the rules look at a message:
#   Junk                 spam, as marked by the spam filter (X-Spam-Flag: YES)
#   Bounces              delivery status notifications and MAILER-DAEMON mail
#   Auto-Replies         out-of-office and other automatic answers
#   Lists/NAME           mailing-list traffic, one folder per list
#   Support/Disputes     disputes, arbitration cases (aYYYYMMDD.N), ABC requests  [\Flagged]
#   Privacy              account deletion and personal-data requests              [$Privacy]
#   Lang/German          German requests, for the German-speaking volunteers
#   Lang/French          French requests, for the French-speaking volunteers
#   Payments             donations, membership fees, invoices                    [$Payment]
#   Assurance/Organisation  organisation assurance (OA)
#   Assurance            assurers, points, TTP
#   Accounts             passwords, lost accounts, login problems
#   Certificates         client and server certificates, CSRs, revocation
#   Triage               everything else: a human looks at it first
#
# Machine mail (spam, bounces, auto-replies, lists) is sorted first and stops there,
# so an out-of-office answer quoting "password" never lands in Accounts. Disputes and
# privacy requests come before the language buckets: they are handled by the case
# managers and the privacy contact whatever language they are written in.
# Any message that names a support ticket (sYYYYMMDD.NNN) gets the $Ticket keyword so
# triage can find follow-ups to open tickets in every bucket.

require ["fileinto", "imap4flags", "variables", "envelope", "subaddress", "body",
         "regex", "relational", "comparator-i;ascii-numeric", "mailbox"];

# --- Spam -------------------------------------------------------------------------
# The spam filter in front of the mailbox marks spam with X-Spam-Flag: YES (any case).
# Spam is read by nobody, so it is marked \Seen and filed before anything else looks at it.
if header :is "X-Spam-Flag" "YES" {
    fileinto :flags "\\Seen" "Junk";
    stop;
}

# --- Bounces ----------------------------------------------------------------------
# Delivery status notifications (RFC 3464) and anything from a mailer daemon or
# postmaster: replies we sent that did not arrive. Kept apart so triage can fix
# addresses without answering a machine.
if anyof (header :contains "Content-Type" "report-type=delivery-status",
          address :localpart :is "From" ["MAILER-DAEMON", "postmaster"]) {
    fileinto :flags "\\Seen" "Bounces";
    stop;
}

# --- Auto-replies -----------------------------------------------------------------
# RFC 3834: Auto-Submitted other than "no" means a machine wrote it. Many mailers
# only set X-Autoreply or a recognisable subject instead.
if anyof (allof (exists "Auto-Submitted", not header :is "Auto-Submitted" "no"),
          exists ["X-Autoreply", "X-Autorespond"],
          header :matches "Subject" ["Out of office*", "Automatische Antwort*",
                                     "Automatic reply*", "Absence du bureau*"]) {
    fileinto :flags "\\Seen" "Auto-Replies";
    stop;
}

# --- Mailing lists ----------------------------------------------------------------
# List-Id (RFC 2919) names the list: file into Lists/<first label>, lower-cased so that
# "Support-List.Lists.Example.ORG" and "support-list.lists.example.org" share a folder.
# Bulk mail without List-Id (Precedence: list/bulk) goes to Lists/other.
if header :regex "List-Id" "<([a-z0-9_-]+)[.]" {
    set :lower "list" "${1}";
    fileinto "Lists/${list}";
    stop;
}
if header :is "Precedence" ["list", "bulk"] {
    fileinto "Lists/other";
    stop;
}

# --- Ticket follow-ups ------------------------------------------------------------
# A support ticket number such as s20120418.179 in the subject: mark it, keep sorting.
if header :regex "Subject" "s20[0-9]{6}[.][0-9]+" {
    addflag "$Ticket";
}

# --- Disputes ---------------------------------------------------------------------
# Disputes under the Dispute Resolution Policy, arbitration case numbers
# (a20071225.1), and Arbitrated Background Check filings. Flagged: a case manager
# must see each one. Mail sent to support+disputes@ is a dispute by address.
if anyof (envelope :detail "to" "disputes",
          header :regex "Subject" "a(19|20)[0-9]{6}[.][0-9]+",
          header :contains "Subject" ["dispute", "arbitration", "Streitfall", "litige",
                                      "Beschwerde"],
          body :text :contains ["file a dispute", "Arbitrated Background Check",
                                "Dispute einreichen", "ouvrir un litige"]) {
    addflag "\\Flagged";
    fileinto "Support/Disputes";
    stop;
}

# --- Privacy and account deletion --------------------------------------------------
# Deletion and data-access requests have legal deadlines: they get the $Privacy keyword
# and their own folder, whatever language they are in. support+privacy@ is a privacy
# request by address.
if anyof (envelope :detail "to" "privacy",
          header :contains "Subject" ["delete my account", "account deletion", "GDPR",
                                      "privacy", "Konto löschen", "Löschung",
                                      "Suppression de mon compte", "Supprimer mon compte"],
          body :text :contains ["delete my account", "personal data", "DSGVO",
                                "données personnelles", "RGPD"]) {
    addflag "$Privacy";
    fileinto "Privacy";
    stop;
}

# --- Language buckets -------------------------------------------------------------
# German and French requests go to volunteers who read them. Content-Language is
# honoured when present; otherwise common greetings and words decide. support+de@
# is German by address.
if anyof (envelope :detail "to" "de",
          header :matches "Content-Language" "de*",
          body :text :contains ["Hallo", "Guten Tag", "Sehr geehrte", "Grüße", "Gruss",
                                "Vielen Dank", "bitte"]) {
    fileinto "Lang/German";
    stop;
}
if anyof (header :matches "Content-Language" "fr*",
          body :text :contains ["Bonjour", "Merci", "Cordialement", "s'il vous plaît"]) {
    fileinto "Lang/French";
    stop;
}

# --- Payments and donations -------------------------------------------------------
# Forwarded to the treasurer's queue; keyword so it can be searched across folders.
if anyof (envelope :detail "to" "billing",
          header :contains "Subject" ["donation", "payment", "invoice", "PayPal",
                                      "membership fee", "receipt"]) {
    addflag "$Payment";
    fileinto "Payments";
    stop;
}

# --- Organisation assurance -------------------------------------------------------
# Handled by the OA team, not by individual assurers; checked before Assurance.
if header :contains "Subject" ["Organisation Assurance", "Organization Assurance", "OA team"] {
    fileinto "Assurance/Organisation";
    stop;
}

# --- Assurance --------------------------------------------------------------------
# Assurers, assurance points, TTP.
if anyof (header :contains "Subject" ["assurance", "assurer", "points", "TTP"],
          body :text :contains ["Assurer Challenge", "assurance points"]) {
    fileinto "Assurance";
    stop;
}

# --- Accounts and passwords -------------------------------------------------------
# Lost passwords and accounts, locked logins.
if header :contains "Subject" ["password", "passphrase", "lost account", "login",
                               "locked", "Passwort", "Kennwort"] {
    fileinto "Accounts";
    stop;
}

# --- Certificates -----------------------------------------------------------------
# Client and server certificates, CSRs, revocation and renewal.
if header :contains "Subject" ["certificate", "CSR", "revoke", "S/MIME", "Zertifikat",
                               "certificat"] {
    fileinto "Certificates";
    stop;
}

# --- Default ----------------------------------------------------------------------
# Nothing matched: a triage volunteer reads it and picks the bucket by hand.
fileinto "Triage";
