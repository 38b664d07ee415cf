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
    let mut lx = Lexer::new(src);
    lx.run()?;
    Ok(lx.tokens)
}

/// The tokens before the first lexical error (all of them when there is none: what sieve-rs has
/// read before it reports that error), and the error.
pub(crate) fn lex_prefix(src: &[u8]) -> (Vec<Token>, Option<LexError>) {
    let mut lx = Lexer::new(src);
    let error = lx.run().err();
    (lx.tokens, error)
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    tokens: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
            line_start: 0,
            tokens: Vec::new(),
        }
    }

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

/// Checks the command structure of RFC 5228 §8.2 that sieve-rs does not enforce: every command ends
/// with `;` or a block. sieve-rs accepts `fileinto "A" }` (no `;` before the `}`) and a script whose
/// last command lacks its `;`; Pigeonhole refuses both ("expected end of command ';' or the beginning
/// of a compound block '{'"), so triaged refuses them too.
pub(crate) fn check_commands(tokens: &[Token]) -> Result<(), LexError> {
    let mut i = 0;
    let mut depth = 0usize;
    while let Some(tok) = tokens.get(i) {
        match tok.kind {
            Kind::RBrace if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            Kind::Ident => {
                i = skip_arguments(tokens, i + 1)?;
                match tokens.get(i) {
                    Some(t) if t.kind == Kind::Semi => i += 1,
                    Some(t) if t.kind == Kind::LBrace => {
                        depth += 1;
                        i += 1;
                    }
                    other => return Err(structure_error(tokens, other, END_OF_COMMAND)),
                }
            }
            _ => return Err(structure_error(tokens, Some(tok), "expected a command")),
        }
    }
    if depth > 0 {
        return Err(structure_error(
            tokens,
            None,
            "missing '}' at the end of the script",
        ));
    }
    Ok(())
}

/// Finds a match variable (`${1}`) in the arguments of the very test whose `:matches` or `:regex`
/// sets the match variables, as in `header :matches "From" "${1}*"`. RFC 5229 §3.2 reads it as the
/// previous match's value; sieve-rs 0.7 looks for that test before it is built and fails an internal
/// assertion (a release build leaves `${1}` as literal text, which sorts differently from
/// Pigeonhole). Such a script is refused where the string is, so it neither crashes nor sorts wrongly;
/// `set "prev" "${1}";` before the test says the same thing in a form both engines read alike.
/// sieve-rs reads `${1}` this way even in a script that does not require "variables", where
/// Pigeonhole takes it as text; such a script is refused too (rewording the key avoids it).
pub(crate) fn match_variable_in_matching_test(src: &[u8], tokens: &[Token]) -> Option<LexError> {
    let mut matching = false;
    for tok in tokens {
        match tok.kind {
            Kind::Tag => {
                let tag = &src[tok.start..tok.end];
                if tag.eq_ignore_ascii_case(b":matches") || tag.eq_ignore_ascii_case(b":regex") {
                    matching = true;
                }
            }
            Kind::Quoted | Kind::Multiline if matching => {
                if has_match_variable(&src[tok.start..tok.end]) {
                    return Some(LexError {
                        line: tok.line,
                        col: tok.col,
                        message: MATCH_VARIABLE_IN_MATCHING_TEST,
                    });
                }
            }
            Kind::Quoted | Kind::Multiline | Kind::Number | Kind::Open | Kind::Close => {}
            // Anything else ends the test's arguments.
            _ => matching = false,
        }
    }
    None
}

const MATCH_VARIABLE_IN_MATCHING_TEST: &str = "a match variable such as ${1} in the arguments of the \
     :matches or :regex test that sets the match variables is not supported; copy it into a variable \
     with set before the test";

/// True when the text holds `${` digits `}`.
fn has_match_variable(text: &[u8]) -> bool {
    text.windows(2).enumerate().any(|(i, w)| {
        if w != b"${" {
            return false;
        }
        let digits = text[i + 2..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        digits > 0 && text.get(i + 2 + digits) == Some(&b'}')
    })
}

const END_OF_COMMAND: &str = "expected end of command ';' or the beginning of a compound block '{'";

/// Where a structure error points: at the offending token, or just past the last one at the end.
fn structure_error(tokens: &[Token], at: Option<&Token>, message: &'static str) -> LexError {
    match at.or(tokens.last()) {
        Some(t) => LexError {
            line: t.line,
            col: if at.is_some() {
                t.col
            } else {
                t.col + (t.end - t.start)
            },
            message,
        },
        None => LexError {
            line: 1,
            col: 1,
            message,
        },
    }
}

/// Skips `*argument [test / test-list]` (RFC 5228 §8.2) from `i`; returns the index after them.
fn skip_arguments(tokens: &[Token], mut i: usize) -> Result<usize, LexError> {
    loop {
        match tokens.get(i).map(|t| t.kind) {
            Some(Kind::Tag | Kind::Quoted | Kind::Multiline | Kind::Number) => i += 1,
            Some(Kind::Open) => i = skip_string_list(tokens, i + 1)?,
            _ => break,
        }
    }
    match tokens.get(i).map(|t| t.kind) {
        Some(Kind::Ident) => skip_arguments(tokens, i + 1),
        Some(Kind::LParen) => {
            i += 1;
            loop {
                match tokens.get(i) {
                    Some(t) if t.kind == Kind::Ident => i = skip_arguments(tokens, i + 1)?,
                    other => return Err(structure_error(tokens, other, "expected a test")),
                }
                match tokens.get(i) {
                    Some(t) if t.kind == Kind::Comma => i += 1,
                    Some(t) if t.kind == Kind::RParen => return Ok(i + 1),
                    other => {
                        return Err(structure_error(
                            tokens,
                            other,
                            "expected ',' or ')' in a test list",
                        ));
                    }
                }
            }
        }
        _ => Ok(i),
    }
}

/// Skips the strings of a `[...]` list whose `[` is before `i`; returns the index after the `]`.
fn skip_string_list(tokens: &[Token], mut i: usize) -> Result<usize, LexError> {
    loop {
        match tokens.get(i) {
            Some(t) if matches!(t.kind, Kind::Quoted | Kind::Multiline) => i += 1,
            other => {
                return Err(structure_error(
                    tokens,
                    other,
                    "expected a string in a string list",
                ));
            }
        }
        match tokens.get(i) {
            Some(t) if t.kind == Kind::Comma => i += 1,
            Some(t) if t.kind == Kind::Close => return Ok(i + 1),
            other => {
                return Err(structure_error(
                    tokens,
                    other,
                    "expected ',' or ']' in a string list",
                ));
            }
        }
    }
}
