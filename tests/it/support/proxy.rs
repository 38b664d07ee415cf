//! A TCP proxy between `triaged` and a real server (plaintext IMAP or SMTP on loopback), for fault
//! tests: it forwards both ways, keeps a transcript of the commands the client sent, and breaks one
//! connection once, the way its [`Fault`] says, then forwards every later connection untouched. A test
//! asserts that the fault fired ([`Proxy::wait_fired`]), so a fault that never
//! happened cannot make a test pass. It never changes a byte it forwards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How a proxy breaks its one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// IMAP: when the client sends a command (after its tag) starting with one of these, the command
    /// reaches the server, half of the server's first answer to it reaches the client, and both sides
    /// are closed: a cut in the middle of the exchange.
    CutOn(&'static [&'static str]),
    /// SMTP: after the client's `DATA`, nothing more of the client's reaches the server. The client
    /// sends the message and its end and waits; the server never sees the end, so never answers `250`.
    StallAfterData,
    /// SMTP: the message and its end reach the server, which accepts it; its reply (`250 ... queued`)
    /// is held, so the client never learns that the mail was accepted.
    WithholdDataReply,
}

impl Fault {
    fn is_imap(self) -> bool {
        matches!(self, Fault::CutOn(_))
    }
}

/// A running proxy; it lives as long as the test's runtime.
pub struct Proxy {
    /// Where clients connect (127.0.0.1).
    pub port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: u16,
    fault: Fault,
    /// Connections accepted so far.
    connections: AtomicU64,
    /// Every command line clients sent, in order (message data left out).
    transcript: Mutex<Vec<String>>,
    /// What the fault fired on (the command, or the reply held), once it has.
    fired: watch::Sender<Option<String>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16, fault: Fault) -> Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("bind the proxy")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            upstream,
            fault,
            connections: AtomicU64::new(0),
            transcript: Mutex::new(Vec::new()),
            fired: watch::Sender::new(None),
        });
        let s = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(Conn::serve(s.clone(), client));
            }
        });
        Ok(Proxy { port, shared })
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until the fault has fired; fails after `limit`.
    pub async fn wait_fired(&self, limit: Duration) -> Result<String> {
        let mut rx = self.shared.fired.subscribe();
        match tokio::time::timeout(limit, rx.wait_for(Option::is_some)).await {
            Ok(Ok(fired)) => Ok(fired.clone().unwrap_or_default()),
            _ => bail!(
                "the proxy's fault {:?} did not fire within {limit:?}; commands: {:?}",
                self.shared.fault,
                self.commands()
            ),
        }
    }

    /// The commands clients sent, without tags, arguments or anything after a command that could
    /// hold a password: `["CAPABILITY", "AUTHENTICATE", "SELECT", "UID SEARCH", ...]`.
    pub fn commands(&self) -> Vec<String> {
        let lines = self
            .shared
            .transcript
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        let imap = self.shared.fault.is_imap();
        lines.iter().filter_map(|l| verb(imap, l)).collect()
    }
}

/// The command of a line, upper-cased and without its tag or arguments: IMAP `A7 UID MOVE 1:4 "Junk"`
/// → `UID MOVE`; SMTP `MAIL FROM:<a@b>` → `MAIL`. `None` for a line that is no command (an
/// AUTHENTICATE answer, message data).
fn verb(imap: bool, line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    if imap {
        let (_tag, first) = (words.next()?, words.next()?);
        if !first.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let first = first.to_ascii_uppercase();
        return Some(match words.next() {
            Some(second) if first == "UID" => format!("UID {}", second.to_ascii_uppercase()),
            _ => first,
        });
    }
    let first = words.next()?.split(':').next()?;
    (first.len() == 4 && first.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| first.to_ascii_uppercase())
}

/// Where one connection's exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Forwarding both ways.
    Open,
    /// IMAP: the trigger command went to the server; cut on its first answer.
    CutNext,
    /// SMTP: `DATA` went to the server; the message follows, forwarded or not, until its end.
    Data { forward: bool },
    /// SMTP: the end of the message was sent; the client waits for the final reply, which never
    /// comes: its bytes are held (stall) or the server's reply is (withhold).
    Held,
}

struct Conn {
    shared: Arc<Shared>,
    phase: Phase,
    /// The client's bytes not yet ending a line.
    partial: Vec<u8>,
    /// The last bytes of the message, to find its end (`CRLF . CRLF`) across reads.
    tail: Vec<u8>,
}

impl Conn {
    async fn serve(shared: Arc<Shared>, client: TcpStream) {
        let Ok(server) = TcpStream::connect(("127.0.0.1", shared.upstream)).await else {
            return;
        };
        let mut conn = Conn {
            shared,
            phase: Phase::Open,
            partial: Vec::new(),
            tail: Vec::new(),
        };
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        conn.pump(cr, cw, sr, sw).await;
    }

    /// Forwards until either side closes or the fault closes both; dropping the halves closes them.
    async fn pump(
        &mut self,
        mut cr: OwnedReadHalf,
        mut cw: OwnedWriteHalf,
        mut sr: OwnedReadHalf,
        mut sw: OwnedWriteHalf,
    ) {
        let mut from_client = vec![0u8; 16 * 1024];
        let mut from_server = vec![0u8; 16 * 1024];
        loop {
            tokio::select! {
                n = cr.read(&mut from_client) => {
                    let Ok(n @ 1..) = n else { return };
                    let forward = self.client_bytes(&from_client[..n]);
                    if forward && sw.write_all(&from_client[..n]).await.is_err() {
                        return;
                    }
                }
                n = sr.read(&mut from_server) => {
                    let Ok(n @ 1..) = n else { return };
                    if self.phase == Phase::CutNext {
                        // The cut: half the answer, then both sides closed.
                        let _ = cw.write_all(&from_server[..n / 2]).await;
                        return;
                    }
                    if self.server_bytes(&from_server[..n])
                        && cw.write_all(&from_server[..n]).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    }

    /// Reads what the client sent; whether it goes on to the server.
    fn client_bytes(&mut self, bytes: &[u8]) -> bool {
        match self.phase {
            Phase::Data { forward } => {
                self.tail.extend_from_slice(bytes);
                if self.tail.windows(5).any(|w| w == b"\r\n.\r\n") {
                    self.phase = Phase::Held;
                    if self.shared.fault == Fault::StallAfterData {
                        self.fire("the end of the message, held from the server".to_owned());
                    }
                } else {
                    let keep = self.tail.len().saturating_sub(4);
                    self.tail.drain(..keep);
                }
                forward
            }
            Phase::Held => self.shared.fault != Fault::StallAfterData,
            Phase::Open | Phase::CutNext => {
                self.partial.extend_from_slice(bytes);
                while let Some(at) = self.partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.partial.drain(..=at).collect();
                    self.command(String::from_utf8_lossy(&line).trim_end());
                }
                true
            }
        }
    }

    /// One command line from the client: recorded, and checked against the fault.
    fn command(&mut self, line: &str) {
        if let Ok(mut t) = self.shared.transcript.lock() {
            t.push(line.to_owned());
        }
        if self.shared.fired.borrow().is_some() || self.phase != Phase::Open {
            return;
        }
        let Some(verb) = verb(self.shared.fault.is_imap(), line) else {
            return;
        };
        match self.shared.fault {
            Fault::CutOn(commands) if commands.iter().any(|c| verb.eq_ignore_ascii_case(c)) => {
                self.phase = Phase::CutNext;
                self.fire(verb);
            }
            Fault::StallAfterData | Fault::WithholdDataReply if verb == "DATA" => {
                // The CRLF that ended `DATA` may also begin the end of an empty message.
                self.tail = b"\r\n".to_vec();
                self.phase = Phase::Data {
                    forward: self.shared.fault == Fault::WithholdDataReply,
                };
            }
            _ => {}
        }
    }

    /// Reads what the server sent; whether it goes on to the client.
    fn server_bytes(&mut self, bytes: &[u8]) -> bool {
        if self.phase == Phase::Held && self.shared.fault == Fault::WithholdDataReply {
            self.fire(String::from_utf8_lossy(bytes).trim_end().to_owned());
            return false;
        }
        true
    }

    /// Records that the fault fired, on the first connection it fired on.
    fn fire(&self, what: String) {
        self.shared.fired.send_if_modified(|f| {
            let first = f.is_none();
            if first {
                *f = Some(what);
            }
            first
        });
    }
}

#[cfg(test)]
mod tests {
    use super::verb;

    #[test]
    fn commands_are_read_without_tags_and_arguments() {
        let imap = |l| verb(true, l);
        let smtp = |l| verb(false, l);
        assert_eq!(
            imap("A7 UID MOVE 1:4 \"Junk\"").as_deref(),
            Some("UID MOVE")
        );
        assert_eq!(imap("a12 idle").as_deref(), Some("IDLE"));
        assert_eq!(imap("AGpvZQBzZWNyZXQ="), None);
        assert_eq!(smtp("MAIL FROM:<a@b>").as_deref(), Some("MAIL"));
        assert_eq!(smtp("EHLO mail.test.example").as_deref(), Some("EHLO"));
        assert_eq!(smtp("DATA").as_deref(), Some("DATA"));
        assert_eq!(smtp("Subject: hello"), None);
    }
}
