-- imapfilter's version of rules/support.sieve, for scripts/bench-worker: the same buckets in the same
-- order, each rule taking what is still in INBOX (so earlier rules win, as `stop` does in Sieve).
-- Server-side searches (contain_*) where IMAP SEARCH can say it, client-side regexes (match_*) where
-- it cannot. BENCH_* are replaced by the script.

options.timeout = 120
options.create = true
options.subscribe = true
options.certificates = false
options.info = false

local account = IMAP {
    server = 'localhost',
    port = BENCH_PORT,
    username = 'BENCH_USER',
    password = 'BENCH_PASSWORD',
}
local inbox = account.INBOX

local function file(set, folder, flags)
    if flags then set:add_flags(flags) end
    set:move_messages(account[folder])
end

local function any_subject(words)
    local set = Set {}
    for _, w in ipairs(words) do set = set + inbox:contain_subject(w) end
    return set
end

local function any_body(words)
    local set = Set {}
    for _, w in ipairs(words) do set = set + inbox:contain_body(w) end
    return set
end

local function to_detail(detail)
    return inbox:contain_field('Delivered-To', '+' .. detail .. '@') + inbox:contain_to('+' .. detail .. '@')
end

-- Spam, bounces, automatic replies.
file(inbox:contain_field('X-Spam-Flag', 'YES'), 'Junk', { '\\Seen' })
file(inbox:contain_field('Content-Type', 'report-type=delivery-status')
    + inbox:contain_from('MAILER-DAEMON') + inbox:contain_from('postmaster'), 'Bounces', { '\\Seen' })
file((inbox:contain_field('Auto-Submitted', '') - inbox:match_field('Auto-Submitted', '^[Nn][Oo]$'))
    + inbox:contain_field('X-Autoreply', '') + inbox:contain_field('X-Autorespond', '')
    + inbox:match_subject('^(Out of office|Automatische Antwort|Automatic reply|Absence du bureau)'),
    'Auto-Replies', { '\\Seen' })

-- Mailing lists: Lists/<first label of List-Id>, lower-cased.
local lists = {}
for _, msg in ipairs(inbox:contain_field('List-Id', '')) do
    local mbox, uid = table.unpack(msg)
    local id = mbox[uid]:fetch_field('List-Id') or ''
    local name = string.match(string.lower(id), '<([a-z0-9_-]+)%.')
    if name then
        lists[name] = lists[name] or Set {}
        lists[name] = lists[name] + Set { msg }
    end
end
for name, set in pairs(lists) do file(set, 'Lists/' .. name) end
file(inbox:match_field('Precedence', '^ *(list|bulk) *$'), 'Lists/other')

-- Ticket numbers: a keyword, sorting goes on.
inbox:match_subject('s20[0-9]{6}\\.[0-9]+'):add_flags({ '$Ticket' })

file(to_detail('disputes') + inbox:match_subject('a(19|20)[0-9]{6}\\.[0-9]+')
    + any_subject({ 'dispute', 'arbitration', 'Streitfall', 'litige', 'Beschwerde' })
    + any_body({ 'file a dispute', 'Arbitrated Background Check', 'Dispute einreichen', 'ouvrir un litige' }),
    'Support/Disputes', { '\\Flagged' })
file(to_detail('privacy')
    + any_subject({ 'delete my account', 'account deletion', 'GDPR', 'privacy', 'Konto löschen', 'Löschung',
        'Suppression de mon compte', 'Supprimer mon compte' })
    + any_body({ 'delete my account', 'personal data', 'DSGVO', 'données personnelles', 'RGPD' }),
    'Privacy', { '$Privacy' })
file(to_detail('de') + inbox:match_field('Content-Language', '^ *de')
    + any_body({ 'Hallo', 'Guten Tag', 'Sehr geehrte', 'Grüße', 'Gruss', 'Vielen Dank', 'bitte' }), 'Lang/German')
file(inbox:match_field('Content-Language', '^ *fr')
    + any_body({ 'Bonjour', 'Merci', 'Cordialement', "s'il vous plaît" }), 'Lang/French')
file(to_detail('billing')
    + any_subject({ 'donation', 'payment', 'invoice', 'PayPal', 'membership fee', 'receipt' }),
    'Payments', { '$Payment' })
file(any_subject({ 'Organisation Assurance', 'Organization Assurance', 'OA team' }), 'Assurance/Organisation')
file(any_subject({ 'assurance', 'assurer', 'points', 'TTP' })
    + any_body({ 'Assurer Challenge', 'assurance points' }), 'Assurance')
file(any_subject({ 'password', 'passphrase', 'lost account', 'login', 'locked', 'Passwort', 'Kennwort' }),
    'Accounts')
file(any_subject({ 'certificate', 'CSR', 'revoke', 'S/MIME', 'Zertifikat', 'certificat' }), 'Certificates')
file(inbox:select_all(), 'Triage')
