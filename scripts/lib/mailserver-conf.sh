# shellcheck shell=bash
# Config writers for scripts/mailserver: the test CA and leaf certificate, the private Dovecot, the private
# Postfix and the Pigeonhole config for sieve-test/sieve-filter. Sourced, never run; it only writes files under
# $MS_DIR and must not start, stop or install anything.

# Writes stdin to FILE only when it differs, and then sets MS_CHANGED=1: Postfix commands stall for a second
# or two after main.cf's mtime moves, and a running server needs a reload only when its config changed.
# shellcheck disable=SC2034 # read by scripts/mailserver
MS_CHANGED=0
ms_put() {
    local f=$1
    cat >"$f.new"
    if cmp -s "$f.new" "$f"; then
        rm -f "$f.new"
    else
        mv "$f.new" "$f"
        # shellcheck disable=SC2034 # read by scripts/mailserver
        MS_CHANGED=1
    fi
}

# The test CA and a leaf for localhost/127.0.0.1 signed by it. rustls rejects a self-signed CA certificate used
# directly as a server certificate, hence the two levels. Generated once; later runs keep them so a client that
# loaded ca.pem earlier still trusts the server.
ms_write_tls() {
    local d="$MS_DIR/tls"
    mkdir -p "$d"
    if [[ ! -s $d/server.pem || ! -s $d/ca.pem ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
            -keyout "$d/ca.key" -out "$d/ca.pem" -subj "/CN=triaged test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -sha256 \
            -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" 2>/dev/null
        printf '%s\n' "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" \
            "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$d/server.ext"
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
            -days 3650 -sha256 -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
        rm -f "$d/server.csr" "$d/server.ext"
    fi
    # RFC 7919 group: instant, unlike `openssl dhparam`.
    [[ -s $d/dh.pem ]] || openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$d/dh.pem"
    chmod 0644 "$d/ca.pem" "$d/server.pem" "$d/dh.pem"
    chmod 0600 "$d/ca.key" "$d/server.key"
}

# One passwd-file per user, $MS_DIR/dovecot/users/NAME, holding the line `NAME:{PLAIN}PASSWORD::::::`.
# Dovecot re-reads a changed passwd-file at most once a second (db-passwd-file.c), so a user appended to a
# shared file could fail to log in right after being added; a file of its own is read on first use, and a
# missing file is never cached. The fixed users exist on every run; tests add their own files.
ms_write_users() {
    local d="$MS_DIR/dovecot/users" u
    mkdir -p "$d"
    chmod 0755 "$d"
    for u in support arbitration stl; do
        [[ -s $d/$u ]] || printf '%s:{PLAIN}secret::::::\n' "$u" >"$d/$u"
        chmod 0644 "$d/$u"
    done
}

ms_write_dovecot() {
    local d="$MS_DIR/dovecot" vuid vgid
    vuid=$(id -u "$MS_VMAIL") vgid=$(id -g "$MS_VMAIL")
    mkdir -p "$d/run" "$d/state" "$MS_DIR/mail"
    chown "$MS_VMAIL:$MS_VMAIL" "$MS_DIR/mail"
    ms_write_users
    ms_put "$d/dovecot.conf" <<CONF
# Private Dovecot for triaged's tests, written by scripts/mailserver. No include of /etc/dovecot.
instance_name = triaged-test
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
hostname = mail.test.example
postmaster_address = postmaster@test.example

ssl = yes
ssl_cert = <$MS_DIR/tls/server.pem
ssl_key = <$MS_DIR/tls/server.key
ssl_dh = <$MS_DIR/tls/dh.pem

disable_plaintext_auth = no
auth_mechanisms = plain login
# user@test.example and user log in as the same account; LMTP recipients carry the domain.
auth_username_format = %Ln
recipient_delimiter = +
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $d/users/%n
}
userdb {
  driver = passwd-file
  args = username_format=%n $d/users/%n
  default_fields = uid=$vuid gid=$vgid home=$MS_DIR/mail/%n
}
first_valid_uid = $vuid
last_valid_uid = $vuid
first_valid_gid = $vgid
mail_location = maildir:~/Maildir
mail_max_userip_connections = 200
# A test server's mail need not survive a power cut: without an fsync per message, building a test's
# backlog and moving it cost a seventh of the time. scripts/bench-worker measures with Dovecot's default.
mail_fsync = $MS_FSYNC

mail_plugins = \$mail_plugins acl
protocol imap {
  mail_plugins = \$mail_plugins imap_acl
}
plugin {
  acl = vfile
  acl_shared_dict = file:$MS_DIR/mail/shared-mailboxes.db
}
namespace inbox {
  inbox = yes
  separator = /
  prefix =
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Sent {
    special_use = \Sent
  }
}
namespace shared {
  type = shared
  separator = /
  prefix = shared/%%u/
  location = maildir:%%h/Maildir:INDEXPVT=~/Maildir/shared/%%u
  subscriptions = no
  list = children
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $TRIAGED_IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $TRIAGED_IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $TRIAGED_LMTP_PORT
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
# A private instance's own settings, which a test writes (tests/it/support/private.rs).
!include_try local.conf
CONF
}

# Pigeonhole's sieve-test and sieve-filter read /etc/dovecot unless given -c: this is their private config,
# with every extension Pigeonhole 0.5 ships enabled (those needing more setup get it here). The tools refuse
# to access mail as root, so they drop to $MS_VMAIL before opening anything: the script and the message must
# be readable by that user (a 0755 directory with 0644 files will do).
ms_write_sieve_conf() {
    local d="$MS_DIR/sieve" exts
    exts="+vacation-seconds +editheader +mime +foreverypart +extracttext +spamtest +spamtestplus +virustest"
    exts+=" +imapflags +special-use +notify +mboxmetadata +servermetadata +vnd.dovecot.debug"
    exts+=" +vnd.dovecot.environment"
    mkdir -p "$d/run"
    chown "$MS_VMAIL:$MS_VMAIL" "$d"
    ms_put "$MS_DIR/dovecot-sieve.conf" <<CONF
# Private Pigeonhole config for sieve-test / sieve-filter, written by scripts/mailserver.
base_dir = $d/run
state_dir = $d
mail_uid = $MS_VMAIL
mail_gid = $MS_VMAIL
mail_location = maildir:$d/Maildir
recipient_delimiter = +
postmaster_address = postmaster@test.example
hostname = mail.test.example
plugin {
  sieve = file:$d/scripts;active=$d/active.sieve
  sieve_extensions = $exts
  sieve_max_redirects = 16
  sieve_spamtest_status_type = score
  sieve_spamtest_status_header = X-Spam-Score
  sieve_spamtest_max_value = 10
  sieve_virustest_status_type = score
  sieve_virustest_status_header = X-Virus-Score
  sieve_virustest_max_value = 5
}
CONF
}

ms_write_postfix() {
    local d="$MS_DIR/postfix"
    mkdir -p "$d/etc" "$d/queue" "$d/data"
    chown postfix:postfix "$d/data"
    ms_put "$d/etc/virtual_mailbox" <<'MAP'
# Every local part at test.example exists, except those starting with "nosuch": tests create users on the fly
# and provoke a real 550 with nosuch-*@test.example.
if /@test\.example$/
!/^nosuch/	ok
endif
MAP
    ms_put "$d/etc/main.cf" <<CONF
# Private Postfix for triaged's tests, written by scripts/mailserver.
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/postfix.log
maillog_file_prefixes = $MS_DIR
syslog_name = triaged-test-postfix

myhostname = mail.test.example
mydomain = test.example
myorigin = test.example
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
recipient_delimiter = +

virtual_mailbox_domains = test.example
virtual_mailbox_maps = regexp:$d/etc/virtual_mailbox
virtual_transport = lmtp:inet:127.0.0.1:$TRIAGED_LMTP_PORT
# Mailing lists: the list domain goes to the private Mailman's LMTP runner (scripts/mailman), which sends
# list mail back through this Postfix. Mailman refuses unknown lists at RCPT; while it is down, mail waits.
relay_domains = $MS_LIST_DOMAIN
transport_maps = inline:{ $MS_LIST_DOMAIN=lmtp:inet:127.0.0.1:$TRIAGED_MAILMAN_LMTP_PORT }
# No relaying anywhere else, not even from mynetworks.
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
default_transport = error:no relaying from the triaged test server
relay_transport = error:no relaying from the triaged test server

smtpd_tls_security_level = may
smtpd_tls_cert_file = $MS_DIR/tls/server.pem
smtpd_tls_key_file = $MS_DIR/tls/server.key
smtpd_banner = \$myhostname ESMTP triaged test Postfix

# Deferred mail (Dovecot down in a test) comes back quickly.
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
CONF
    ms_put "$d/etc/master.cf" < <(
        echo "# Private Postfix services for triaged's tests, written by scripts/mailserver. Nothing is chrooted."
        echo "127.0.0.1:$TRIAGED_SMTP_PORT inet n - n - - smtpd"
        cat <<'CONF'
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
lmtp       unix  - - n -    - lmtp
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
CONF
    )
}
