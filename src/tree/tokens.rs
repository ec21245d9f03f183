//! C preprocessor token normalization for `--headers tokens`.
//!
//! Several real updates change only the comments or formatting of headers (openssl 3.0.17 →
//! 3.0.22 reformatted every header). Hashing a header's preprocessing tokens instead of its
//! bytes lets those updates keep their interface hash. The normal form must never merge two
//! headers a compiler reads differently, so it keeps everything except comments and the
//! amount of whitespace:
//!
//! - lines are spliced at backslash-newline and comments become whitespace, as in
//!   translation phases 2 and 3;
//! - tokens are cut by maximal munch, as a compiler does, and printed one space apart, so
//!   `a+=b` and `a += b` agree while `a + = b` stays different;
//! - a directive keeps its line structure (it ends at the newline), `#include <...>` keeps its
//!   header name verbatim, and `#define F(x)` stays apart from `#define F (x)`;
//! - string and character literals are kept byte for byte.
//!
//! What it cannot see, and docs/interface-diff.md warns about: `__LINE__` in header code, and debug line
//! tables, change with the line numbers; `#x` stringification of macro arguments written in
//! the header keeps their inner spacing in the program's strings.

/// Multi-character punctuators, longest first within each first byte, for maximal munch.
const PUNCTUATORS: &[&[u8]] = &[
    b"%:%:", b"...", b"<<=", b">>=", b"->*", b"<=>", b"##", b"%:", b"->", b"++", b"--", b"<<",
    b">>", b"<=", b">=", b"==", b"!=", b"&&", b"||", b"*=", b"/=", b"%=", b"+=", b"-=", b"&=",
    b"^=", b"|=", b"::", b".*", b"<:", b":>", b"<%", b"%>",
];

/// String-literal prefixes a compiler glues to the following quote.
const LITERAL_PREFIXES: &[&[u8]] = &[b"L", b"u", b"U", b"u8", b"R", b"LR", b"uR", b"UR", b"u8R"];

/// The token normal form of a C or C++ header: tokens one space apart, each directive on a
/// line of its own.
pub fn normalize(source: &[u8]) -> Vec<u8> {
    let text = splice_lines(source);
    let mut lexer = Lexer {
        src: &text,
        pos: 0,
        out: Vec::with_capacity(text.len()),
    };
    lexer.run();
    lexer.out
}

/// Translation phase 2: backslash-newline joins lines.
fn splice_lines(source: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.len());
    let mut i = 0;
    while i < source.len() {
        if source[i] == b'\\' && source.get(i + 1) == Some(&b'\n') {
            i += 2;
        } else if source[i] == b'\\' && source[i + 1..].starts_with(b"\r\n") {
            i += 3;
        } else {
            out.push(source[i]);
            i += 1;
        }
    }
    out
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    out: Vec<u8>,
}

impl Lexer<'_> {
    fn run(&mut self) {
        let mut line_start = true;
        loop {
            line_start |= self.skip_space(true);
            if self.pos >= self.src.len() {
                return;
            }
            if line_start && self.peek(0) == Some(b'#') {
                self.directive();
            } else {
                self.token();
            }
            line_start = false;
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    /// Skips whitespace and comments; stops before a newline unless `cross_lines`. Says
    /// whether it crossed a newline (outside comments), which starts a new logical line.
    fn skip_space(&mut self, cross_lines: bool) -> bool {
        let mut newline = false;
        while let Some(c) = self.peek(0) {
            if c == b'\n' {
                if !cross_lines {
                    break;
                }
                newline = true;
            } else if c == b'/' && self.peek(1) == Some(b'*') {
                let end = find(&self.src[self.pos + 2..], b"*/")
                    .map_or(self.src.len(), |e| self.pos + 2 + e + 2);
                self.pos = end;
                continue;
            } else if c == b'/' && self.peek(1) == Some(b'/') {
                while self.peek(0).is_some_and(|c| c != b'\n') {
                    self.pos += 1;
                }
                continue;
            } else if !c.is_ascii_whitespace() {
                break;
            }
            self.pos += 1;
        }
        newline
    }

    /// A directive line: `#`, its name, the rest of its tokens, and a newline.
    fn directive(&mut self) {
        self.pos += 1;
        self.emit(b"#");
        self.skip_space(false);
        let name_start = self.pos;
        if self.peek(0).is_some_and(is_ident_start) {
            self.token();
        }
        let name = &self.src[name_start..self.pos];
        if matches!(name, b"include" | b"include_next" | b"import") {
            self.skip_space(false);
            if self.peek(0) == Some(b'<') {
                let len = self.src[self.pos..]
                    .iter()
                    .position(|&c| c == b'>' || c == b'\n')
                    .map_or(self.src.len() - self.pos, |e| e + 1);
                let header = self.pos..self.pos + len;
                self.pos += len;
                self.emit_range(header);
            }
        }
        if name == b"define" {
            self.skip_space(false);
            if self.peek(0).is_some_and(is_ident_start) {
                self.token();
                if self.peek(0) == Some(b'(') {
                    // A function-like macro: the `(` touches the name. Marked by no space.
                    self.pos += 1;
                    self.out.push(b'(');
                }
            }
        }
        loop {
            self.skip_space(false);
            match self.peek(0) {
                None | Some(b'\n') => break,
                Some(_) => self.token(),
            }
        }
        self.out.push(b'\n');
    }

    /// One token at `pos`, emitted.
    fn token(&mut self) {
        let start = self.pos;
        let rest = &self.src[self.pos..];
        let c = rest[0];
        let len = if c == b'"' || c == b'\'' {
            literal_len(rest, 0)
        } else if is_ident_start(c) {
            let ident = rest.iter().take_while(|&&b| is_ident_char(b)).count();
            match rest.get(ident) {
                Some(b'"' | b'\'') if LITERAL_PREFIXES.contains(&&rest[..ident]) => {
                    literal_len(rest, ident)
                }
                _ => ident,
            }
        } else if c.is_ascii_digit() || (c == b'.' && rest.get(1).is_some_and(u8::is_ascii_digit)) {
            pp_number_len(rest)
        } else {
            PUNCTUATORS
                .iter()
                .find(|p| rest.starts_with(p))
                .map_or(1, |p| p.len())
        };
        self.pos += len;
        self.emit_range(start..start + len);
    }

    fn emit_range(&mut self, range: std::ops::Range<usize>) {
        let src = self.src;
        self.emit(&src[range]);
    }

    fn emit(&mut self, token: &[u8]) {
        if !matches!(self.out.last(), None | Some(b'\n')) {
            self.out.push(b' ');
        }
        self.out.extend_from_slice(token);
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// Length of a string or character literal whose quote is at `quote`, escapes honoured; an
/// unterminated literal ends at the end of its line, as the compiler's diagnostic would.
fn literal_len(rest: &[u8], quote: usize) -> usize {
    let q = rest[quote];
    let mut i = quote + 1;
    while i < rest.len() {
        match rest[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            c if c == q => return i + 1,
            _ => i += 1,
        }
    }
    rest.len()
}

/// A preprocessing number: digits, letters, `_`, `.`, `'` and signs after an exponent.
fn pp_number_len(rest: &[u8]) -> usize {
    let mut i = 1;
    while i < rest.len() {
        let c = rest[i];
        let sign = matches!(c, b'+' | b'-') && matches!(rest[i - 1], b'e' | b'E' | b'p' | b'P');
        if !(sign || c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'\'')) {
            break;
        }
        i += 1;
    }
    i
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn n(s: &str) -> String {
        String::from_utf8(normalize(s.as_bytes())).unwrap()
    }

    #[test]
    fn comments_and_spacing_vanish() {
        assert_eq!(
            n("int  f(int a,int b); /* c */\n// x\nint g;"),
            n("int f ( int a , int b ) ;\n\n  int\n g ;")
        );
    }

    #[test]
    fn maximal_munch_keeps_distinct_programs_apart() {
        assert_ne!(n("a += b;"), n("a + = b;"));
        assert_eq!(n("a+=b;"), n("a += b;"));
        assert_ne!(n("x = \"a  b\";"), n("x = \"a b\";"));
    }

    #[test]
    fn directives_keep_their_lines_and_macro_shape() {
        assert_ne!(n("#define F(x) x\n"), n("#define F (x) x\n"));
        assert_ne!(n("#define A 1\nint b;"), n("#define A 1 int b;"));
        assert_eq!(n("#  define A /* one */ 1\n"), n("#define A 1\n"));
        assert_eq!(n("#define A \\\n 1\n"), n("#define A 1\n"));
        assert_ne!(n("#define A 1\n"), n("#define A 2\n"));
        assert_eq!(
            n("#include <sys/types.h>\n"),
            n("# include   <sys/types.h> // c\n")
        );
    }

    #[test]
    fn literals_are_kept_exactly() {
        assert_eq!(n("char *s = u8\"x // y\";"), "char * s = u8\"x // y\" ;");
        assert_eq!(n("c = '\\'';"), "c = '\\'' ;");
    }
}
