//! `--allow-paths` and `--ignore-paths` patterns, matched as kube-rbac-proxy matches them: Go's
//! `path.Match`. `*` is any run of characters but `/`, `?` one character but `/`, `[a-z]` and
//! `[^a-z]` classes, `\` escapes; the whole path must match. A malformed pattern is refused when
//! the flag is read, as kube-rbac-proxy refuses it at start-up.

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    source: String,
    tokens: Vec<Token>,
}

/// Why a pattern is malformed (Go's `path.ErrBadPattern`, with where).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path pattern {pattern:?} is malformed at character {position}: {problem}")]
pub struct BadPattern {
    /// The pattern.
    pub pattern: String,
    /// The character index.
    pub position: usize,
    /// What is wrong.
    pub problem: &'static str,
}

impl PathPattern {
    /// Parses `pattern`.
    pub fn parse(pattern: &str) -> Result<Self, BadPattern> {
        let bad = |position, problem| BadPattern { pattern: pattern.to_owned(), position, problem };
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => tokens.push(Token::AnyRun),
                '?' => tokens.push(Token::AnyOne),
                '\\' => {
                    i += 1;
                    let c = *chars.get(i).ok_or_else(|| bad(i, "a trailing backslash escapes nothing"))?;
                    tokens.push(Token::Literal(c));
                }
                '[' => {
                    let start = i;
                    i += 1;
                    let negated = chars.get(i) == Some(&'^');
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    loop {
                        let c = *chars.get(i).ok_or_else(|| bad(start, "an unclosed character class"))?;
                        if c == ']' && !ranges.is_empty() {
                            break;
                        }
                        let mut lo = c;
                        if c == '\\' {
                            i += 1;
                            lo = *chars.get(i).ok_or_else(|| bad(i, "a trailing backslash escapes nothing"))?;
                        } else if c == '-' || c == ']' {
                            return Err(bad(i, "a character class range without its start"));
                        }
                        let mut hi = lo;
                        if chars.get(i + 1) == Some(&'-') {
                            i += 2;
                            let mut c = *chars.get(i).ok_or_else(|| bad(start, "an unclosed character class"))?;
                            if c == '\\' {
                                i += 1;
                                c = *chars.get(i).ok_or_else(|| bad(i, "a trailing backslash escapes nothing"))?;
                            } else if c == ']' || c == '-' {
                                return Err(bad(i, "a character class range without its end"));
                            }
                            hi = c;
                        }
                        ranges.push((lo, hi));
                        i += 1;
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Literal(c)),
            }
            i += 1;
        }
        Ok(PathPattern { source: pattern.to_owned(), tokens })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let name: Vec<char> = path.chars().collect();
        matches_from(&self.tokens, &name)
    }
}

fn one(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::AnyOne => c != '/',
        Token::Class { negated, ranges } => c != '/' && ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated,
        Token::AnyRun => false,
    }
}

/// Go's `path.Match` walk: the pattern as chunks each after an optional star; each chunk
/// matched at the first place it fits (a star skips characters but `/`), never revisited. Linear
/// in the name per chunk, so no pattern can make it exponential (a full backtracking match can be).
fn matches_from(tokens: &[Token], mut name: &[char]) -> bool {
    let mut rest = tokens;
    while !rest.is_empty() {
        let star = rest.first() == Some(&Token::AnyRun);
        let skip = rest.iter().take_while(|t| **t == Token::AnyRun).count();
        rest = &rest[skip..];
        let len = rest.iter().take_while(|t| **t != Token::AnyRun).count();
        let (chunk, after) = rest.split_at(len);
        rest = after;
        if star && chunk.is_empty() {
            return !name.contains(&'/');
        }
        let last = rest.is_empty();
        if let Some(t) = match_chunk(chunk, name).filter(|t| t.is_empty() || !last) {
            name = t;
            continue;
        }
        if !star {
            return false;
        }
        let mut found = None;
        for i in 0..name.len() {
            if name[i] == '/' {
                break;
            }
            if let Some(t) = match_chunk(chunk, &name[i + 1..]) {
                if last && !t.is_empty() {
                    continue;
                }
                found = Some(t);
                break;
            }
        }
        match found {
            Some(t) => name = t,
            None => return false,
        }
    }
    name.is_empty()
}

/// The rest of `name` after `chunk` (no stars) matches its start.
fn match_chunk<'n>(chunk: &[Token], name: &'n [char]) -> Option<&'n [char]> {
    if chunk.len() > name.len() {
        return None;
    }
    chunk.iter().zip(name).all(|(t, c)| one(t, *c)).then(|| &name[chunk.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        PathPattern::parse(p).unwrap().matches(s)
    }

    #[test]
    fn as_gos_path_match() {
        // Cases from Go's path.Match tests.
        assert!(m("abc", "abc"));
        assert!(m("*", "abc"));
        assert!(m("*c", "abc"));
        assert!(!m("a*", "ab/c"));
        assert!(m("a*/b", "abc/b"));
        assert!(!m("a*/b", "a/c/b"));
        assert!(m("a*b*c*d*e*/f", "axbxcxdxe/f"));
        assert!(m("a*b?c*x", "abxbbxdbxebxczzx"));
        assert!(!m("a*b?c*x", "abxbbxdbxebxczzy"));
        assert!(m("ab[c]", "abc"));
        assert!(m("ab[b-d]", "abc"));
        assert!(!m("ab[e-g]", "abc"));
        assert!(!m("ab[^c]", "abc"));
        assert!(m("ab[^e-g]", "abc"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "ab"));
        assert!(m("a?b", "a☺b"));
        assert!(!m("a?b", "a/b"));
        assert!(m("[\\-]", "-"));
        assert!(m("/metrics", "/metrics"));
        assert!(!m("/metrics", "/metrics/x"));
        assert!(m("/api/v1/*", "/api/v1/x"));
    }

    #[test]
    fn many_stars_cost_no_more_than_the_name_is_long() {
        // Exponential for a backtracking matcher; Go's walk (and this one) is linear per chunk.
        let pattern = "a*".repeat(40) + "b";
        assert!(!m(&pattern, &"a".repeat(5000)));
        assert!(m(&pattern, &("a".repeat(5000) + "b")));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for p in ["[", "[^", "[^bc", "a[", "[]a]", "[-]", "[x-]", "a\\", "[a-b-c]"] {
            assert!(PathPattern::parse(p).is_err(), "{p}");
        }
    }
}
