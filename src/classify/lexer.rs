//! The Sieve lexer (RFC 5228 §8.1): script text into tokens, and the small questions every rewrite asks
//! of a token list (a string's value, a command's arguments, where a statement starts). The rewrites in
//! `source`, `adapt` and `fixes` all stand on it; it imports none of them and rewrites nothing.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ident,
    Tag,
    Quoted,
    Multiline,
    Number,
    Open,
    Close,
    Comma,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Semi,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub col: usize,
}

/// Where the lexer gave up; sieve-rs reports the same scripts as compile errors first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: usize,
    pub col: usize,
    pub message: &'static str,
}

/// Splits a Sieve script into tokens (RFC 5228 section 8.1), skipping whitespace and comments.
pub(crate) fn lex(src: &[u8]) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        line_start: 0,
        tokens: Vec::new(),
    };
    lx.run()?;
    Ok(lx.tokens)
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn err(&self, message: &'static str) -> LexError {
        LexError {
            line: self.line,
            col: self.pos - self.line_start + 1,
            message,
        }
    }

    fn bump(&mut self) -> Option<u8> {
        let ch = *self.src.get(self.pos)?;
        self.pos += 1;
        if ch == b'\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(ch)
    }

    fn push(&mut self, kind: Kind, start: usize, line: usize, col: usize) {
        self.tokens.push(Token {
            kind,
            start,
            end: self.pos,
            line,
            col,
        });
    }

    fn run(&mut self) -> Result<(), LexError> {
        while let Some(&ch) = self.src.get(self.pos) {
            let (start, line, col) = (self.pos, self.line, self.pos - self.line_start + 1);
            let single = match ch {
                b'[' => Some(Kind::Open),
                b']' => Some(Kind::Close),
                b',' => Some(Kind::Comma),
                b'(' => Some(Kind::LParen),
                b')' => Some(Kind::RParen),
                b'{' => Some(Kind::LBrace),
                b'}' => Some(Kind::RBrace),
                b';' => Some(Kind::Semi),
                _ => None,
            };
            if let Some(kind) = single {
                self.bump();
                self.push(kind, start, line, col);
                continue;
            }
            match ch {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    self.bump();
                }
                b'#' => self.skip_line(),
                b'/' if self.src.get(self.pos + 1) == Some(&b'*') => self.skip_block_comment()?,
                b'"' => {
                    self.quoted()?;
                    self.push(Kind::Quoted, start, line, col);
                }
                b':' => {
                    self.bump();
                    self.word();
                    self.push(Kind::Tag, start, line, col);
                }
                b'0'..=b'9' => {
                    self.word();
                    self.push(Kind::Number, start, line, col);
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    self.word();
                    if self.src[start..self.pos].eq_ignore_ascii_case(b"text")
                        && self.src.get(self.pos) == Some(&b':')
                    {
                        self.multiline()?;
                        self.push(Kind::Multiline, start, line, col);
                    } else {
                        self.push(Kind::Ident, start, line, col);
                    }
                }
                _ => return Err(self.err("unexpected character")),
            }
        }
        Ok(())
    }

    fn word(&mut self) {
        while let Some(&ch) = self.src.get(self.pos) {
            if ch.is_ascii_alphanumeric() || ch == b'_' {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(ch) = self.bump() {
            if ch == b'\n' {
                break;
            }
        }
    }

    fn skip_block_comment(&mut self) -> Result<(), LexError> {
        self.bump();
        self.bump();
        loop {
            match self.bump() {
                Some(b'*') if self.src.get(self.pos) == Some(&b'/') => {
                    self.bump();
                    return Ok(());
                }
                Some(_) => {}
                None => return Err(self.err("unterminated comment")),
            }
        }
    }

    fn quoted(&mut self) -> Result<(), LexError> {
        self.bump();
        loop {
            match self.bump() {
                Some(b'\\') => {
                    self.bump();
                }
                Some(b'"') => return Ok(()),
                Some(_) => {}
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    /// `text:` up to a line holding a single dot.
    fn multiline(&mut self) -> Result<(), LexError> {
        self.skip_line();
        loop {
            let rest = &self.src[self.pos..];
            if rest.starts_with(b".\n") || rest.starts_with(b".\r\n") || rest == b"." {
                self.skip_line();
                return Ok(());
            }
            if rest.is_empty() {
                return Err(self.err("unterminated multi-line string"));
            }
            self.skip_line();
        }
    }
}

/// The value of a quoted string token (escapes removed).
pub(crate) fn unquote(src: &[u8], tok: &Token) -> String {
    let inner = &src[tok.start + 1..tok.end.saturating_sub(1).max(tok.start + 1)];
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &b in inner {
        if escaped || b != b'\\' {
            out.push(b);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Token indices of the arguments of the command or test at `i`.
pub(crate) fn arg_range(tokens: &[Token], i: usize) -> std::ops::Range<usize> {
    let mut j = i + 1;
    let mut depth = 0usize;
    while let Some(t) = tokens.get(j) {
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => depth = depth.saturating_sub(1),
            Kind::Tag | Kind::Quoted | Kind::Multiline | Kind::Number | Kind::Comma
                if depth > 0 || t.kind != Kind::Comma => {}
            _ => break,
        }
        j += 1;
    }
    i + 1..j
}

/// True when token `i` starts a command.
pub(crate) fn at_statement(tokens: &[Token], i: usize) -> bool {
    i == 0 || matches!(tokens[i - 1].kind, Kind::Semi | Kind::LBrace | Kind::RBrace)
}

/// An edit of the script text: replace `start..end` with the string.
pub(crate) type Edit = (usize, usize, String);
