//! LMTP delivery for tests (RFC 2033), spoken directly to the test Dovecot: puts an .eml into a user's
//! INBOX exactly as a mail server would, without going through Postfix.

use anyhow::{Context as _, Result, bail, ensure};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use super::{TestUser, mailserver};

/// The envelope sender `deliver_lmtp` uses; Dovecot records it as `Return-Path`.
const DEFAULT_SENDER: &str = "lmtp-sender@test.example";

/// Delivers `raw` into `user`'s INBOX with envelope sender `lmtp-sender@test.example`.
pub async fn deliver_lmtp(user: &TestUser, raw: &[u8]) -> Result<()> {
    deliver_lmtp_from(DEFAULT_SENDER, user, raw).await
}

/// Delivers `raw` into `user`'s INBOX with the given envelope sender (empty for the null sender `<>`).
pub async fn deliver_lmtp_from(sender: &str, user: &TestUser, raw: &[u8]) -> Result<()> {
    let port = mailserver().await?.lmtp_port;
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connect to lmtp 127.0.0.1:{port}"))?;
    let mut conn = BufReader::new(tcp);
    expect(&mut conn, 220, "greeting").await?;
    command(&mut conn, "LHLO localhost\r\n", 250).await?;
    command(&mut conn, &format!("MAIL FROM:<{sender}>\r\n"), 250).await?;
    command(&mut conn, &format!("RCPT TO:<{}>\r\n", user.address), 250).await?;
    command(&mut conn, "DATA\r\n", 354).await?;
    conn.get_mut()
        .write_all(&dot_stuff(raw))
        .await
        .context("send lmtp data")?;
    // LMTP answers DATA once per accepted recipient; there is one.
    expect(&mut conn, 250, "delivery").await?;
    command(&mut conn, "QUIT\r\n", 221).await?;
    Ok(())
}

async fn command(conn: &mut BufReader<TcpStream>, line: &str, code: u16) -> Result<()> {
    conn.get_mut()
        .write_all(line.as_bytes())
        .await
        .with_context(|| format!("send {}", line.trim_end()))?;
    expect(conn, code, line.trim_end()).await
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect(conn: &mut BufReader<TcpStream>, code: u16, what: &str) -> Result<()> {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        if conn
            .read_line(&mut line)
            .await
            .with_context(|| format!("read reply to {what}"))?
            == 0
        {
            bail!("lmtp server closed the connection after {what}: {reply}");
        }
        reply.push_str(&line);
        let last = line.as_bytes().get(3) != Some(&b'-');
        if last {
            let got: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            ensure!(
                got == code,
                "lmtp {what}: expected {code}, got {}",
                reply.trim_end()
            );
            return Ok(());
        }
    }
}

/// CRLF line ends, a dot doubled at the start of a line, and the final `.` line (RFC 5321 4.5.2).
fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut line_start = true;
    for (i, &b) in raw.iter().enumerate() {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::dot_stuff;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_with_crlf() {
        assert_eq!(
            dot_stuff(b".a\n..b\nc.d"),
            b"..a\r\n...b\r\nc.d\r\n.\r\n".to_vec()
        );
        assert_eq!(dot_stuff(b"x\r\n.\r\n"), b"x\r\n..\r\n.\r\n".to_vec());
    }
}
