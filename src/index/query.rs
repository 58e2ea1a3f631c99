//! The query language of `callsift search` (and of rules' `query`): a small
//! grammar of our own, close to Tantivy's and Lucene's, parsed into a
//! [`Node`] tree. Pure: no index is needed to parse or to report an error.
//!
//! ```text
//! query   := or
//! or      := and ( OR and )*
//! and     := unary ( [AND] unary )*          words side by side must all match
//! unary   := (NOT | -) unary | [+] primary
//! primary := ( query ) | [field:] ( "phrase"[~slop] | word[~edits] | prefix* )
//! ```
//!
//! Fields: `text` (the default: every form), `exact` (only the exact
//! normalized form), and the filters `speaker`, `language`, `call`, `agent`,
//! `customer`, `direction`, `campaign`, `queue`, `rule` (a rule that fired
//! in the call). `AND`, `OR`, `NOT` are
//! operators only in capitals; a quoted `"or"` is a word.

use std::fmt;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// One word as typed (the search layer normalizes it; it may turn out
    /// to be several words, e.g. `e-mail`, then it is a phrase).
    Word {
        text: String,
        exact: bool,
        kind: WordKind,
    },
    Phrase {
        text: String,
        exact: bool,
        slop: u32,
    },
    /// `speaker:agent`, `language:ru`, …
    Filter {
        field: FilterField,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordKind {
    Plain,
    /// `word~N`: up to N edits (a swap of two letters is one).
    Fuzzy(u8),
    /// `mobil*`.
    Prefix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    Speaker,
    Language,
    Call,
    Agent,
    Customer,
    Direction,
    Campaign,
    Queue,
    /// A rule that fired in the call (`rule:private_channel`).
    Rule,
}

impl FilterField {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "speaker" => Self::Speaker,
            "language" | "lang" => Self::Language,
            "call" | "call_id" => Self::Call,
            "agent" | "agent_id" => Self::Agent,
            "customer" | "customer_number" => Self::Customer,
            "direction" => Self::Direction,
            "campaign" => Self::Campaign,
            "queue" => Self::Queue,
            "rule" => Self::Rule,
            _ => return None,
        })
    }
}

/// The most edits a fuzzy word may ask for.
pub const MAX_EDITS: u8 = 2;
/// The shortest prefix (in characters) a `prefix*` may have.
pub const MIN_PREFIX_CHARS: usize = 2;
const FIELDS_HELP: &str =
    "text, exact, speaker, language, call, agent, customer, direction, campaign, queue, rule";

/// What is wrong with a query, and where (a character index into it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
    pub position: usize,
}

impl QueryError {
    fn at(position: usize, message: impl Into<String>) -> Self {
        QueryError {
            message: message.into(),
            position,
        }
    }

    /// The query with a caret under the problem, for a terminal.
    pub fn render(&self, query: &str) -> String {
        let pad: String = query
            .chars()
            .take(self.position)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("invalid query: {}\n  {query}\n  {pad}^", self.message)
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.position + 1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Plus,
    /// A word, possibly `field:word`, with its fuzzy/prefix suffix.
    Word(String),
    /// `field:` directly before a quote, paren or word.
    Field(String),
    Phrase {
        text: String,
        slop: u32,
    },
}

/// Parses a query; `exact` makes every word and phrase exact (`--exact`).
pub fn parse(query: &str, exact: bool) -> Result<Node, QueryError> {
    let toks = lex(query)?;
    if toks.is_empty() {
        return Err(QueryError::at(0, "the query is empty"));
    }
    let mut p = Parser {
        toks,
        at: 0,
        exact_default: exact,
        len: query.chars().count(),
    };
    let node = p.or()?;
    if let Some((pos, tok)) = p.peek() {
        let what = if *tok == Tok::RParen {
            "a `)` without its `(`"
        } else {
            "unexpected text"
        };
        return Err(QueryError::at(pos, what));
    }
    if !has_positive(&node) {
        return Err(QueryError::at(
            0,
            "the query has nothing to find: only NOT or filters (add a word or a phrase)",
        ));
    }
    Ok(node)
}

/// Whether a node can match on its own (not only exclude or filter).
fn has_positive(node: &Node) -> bool {
    match node {
        Node::And(v) => v.iter().any(has_positive),
        Node::Or(v) => v.iter().all(has_positive),
        Node::Not(_) | Node::Filter { .. } => false,
        Node::Word { .. } | Node::Phrase { .. } => true,
    }
}

/// An ASCII `"` between two Hebrew letters is gershayim (`צה"ל`), typed
/// for ״ on keyboards without it: part of the word, not a quote.
fn is_gershayim(chars: &[char], i: usize) -> bool {
    let hebrew = |c: &char| crate::text::is_hebrew_letter(*c);
    chars[i] == '"'
        && i > 0
        && chars.get(i - 1).is_some_and(hebrew)
        && chars.get(i + 1).is_some_and(hebrew)
}

fn is_special(c: char) -> bool {
    matches!(c, '(' | ')' | '"')
}

fn lex(query: &str) -> Result<Vec<(usize, Tok)>, QueryError> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            '(' => {
                out.push((i, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((i, Tok::RParen));
                i += 1;
            }
            '"' | '“' | '”' | '„' | '«' | '»' => {
                let close = (i + 1..chars.len())
                    .find(|&j| {
                        matches!(chars[j], '"' | '“' | '”' | '»') && !is_gershayim(&chars, j)
                    })
                    .ok_or_else(|| QueryError::at(start, "this quote is never closed"))?;
                let text: String = chars[i + 1..close].iter().collect();
                i = close + 1;
                let mut slop = 0;
                if chars.get(i) == Some(&'~') {
                    let digits: String = chars[i + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .collect();
                    slop = digits.parse().map_err(|_| {
                        QueryError::at(i, "`~` after a phrase needs a number of words (\"a b\"~2)")
                    })?;
                    i += 1 + digits.len();
                }
                out.push((start, Tok::Phrase { text, slop }));
            }
            '-' if out.last().is_none_or(|(_, t)| !matches!(t, Tok::Field(_))) => {
                out.push((i, Tok::Not));
                i += 1;
            }
            '+' => {
                out.push((i, Tok::Plus));
                i += 1;
            }
            _ => {
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && (!is_special(chars[i]) || is_gershayim(&chars, i))
                {
                    if chars[i] == ':' {
                        break;
                    }
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if chars.get(i) == Some(&':') {
                    i += 1;
                    out.push((start, Tok::Field(word)));
                    continue;
                }
                out.push((
                    start,
                    match word.as_str() {
                        "AND" | "&&" => Tok::And,
                        "OR" | "||" => Tok::Or,
                        "NOT" => Tok::Not,
                        _ => Tok::Word(word),
                    },
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    exact_default: bool,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<(usize, &Tok)> {
        self.toks.get(self.at).map(|(p, t)| (*p, t))
    }

    fn next(&mut self) -> Option<(usize, Tok)> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Node, QueryError> {
        let mut parts = vec![self.and()?];
        while let Some((_, Tok::Or)) = self.peek() {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Node, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                None | Some((_, Tok::Or | Tok::RParen)) => break,
                Some((_, Tok::And)) => {
                    self.next();
                    parts.push(self.unary()?);
                }
                Some(_) => parts.push(self.unary()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Node, QueryError> {
        match self.peek() {
            Some((_, Tok::Not)) => {
                self.next();
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Some((_, Tok::Plus)) => {
                self.next();
                self.primary(None)
            }
            _ => self.primary(None),
        }
    }

    fn primary(&mut self, field: Option<(usize, String)>) -> Result<Node, QueryError> {
        let Some((pos, tok)) = self.next() else {
            let what = match &field {
                Some((p, f)) => return Err(QueryError::at(*p, format!("`{f}:` needs a value"))),
                None => "the query ends where a word was expected",
            };
            return Err(QueryError::at(self.len, what));
        };
        match tok {
            Tok::LParen => {
                if let Some((p, f)) = field {
                    return Err(QueryError::at(
                        p,
                        format!("`{f}:` cannot take a group; give it one word or phrase"),
                    ));
                }
                let inner = self.or()?;
                match self.next() {
                    Some((_, Tok::RParen)) => Ok(inner),
                    _ => Err(QueryError::at(pos, "this `(` is never closed")),
                }
            }
            Tok::Field(name) => {
                if field.is_some() {
                    return Err(QueryError::at(pos, "two fields in a row"));
                }
                self.primary(Some((pos, name)))
            }
            Tok::Phrase { text, slop } => self.phrase(field, pos, text, slop),
            Tok::Word(word) => self.word(field, pos, word),
            Tok::RParen => Err(QueryError::at(pos, "a `)` without its `(`")),
            Tok::And | Tok::Or => Err(QueryError::at(
                pos,
                "AND/OR needs a word on both sides (quote it to search for the word itself)",
            )),
            Tok::Not | Tok::Plus => {
                Err(QueryError::at(pos, "an operator where a word was expected"))
            }
        }
    }

    /// Resolves `field:`: `Ok(Some(exact))` for text fields, `Ok(None)` for a filter.
    fn text_field(
        &self,
        field: &Option<(usize, String)>,
    ) -> Result<Result<bool, FilterField>, QueryError> {
        match field {
            None => Ok(Ok(self.exact_default)),
            Some((_, f)) if f == "text" => Ok(Ok(self.exact_default)),
            Some((_, f)) if f == "exact" => Ok(Ok(true)),
            Some((p, f)) => match FilterField::from_name(f) {
                Some(ff) => Ok(Err(ff)),
                None => Err(QueryError::at(
                    *p,
                    format!("unknown field `{f}` (fields: {FIELDS_HELP})"),
                )),
            },
        }
    }

    fn phrase(
        &self,
        field: Option<(usize, String)>,
        pos: usize,
        text: String,
        slop: u32,
    ) -> Result<Node, QueryError> {
        if text.trim().is_empty() {
            return Err(QueryError::at(pos, "an empty phrase"));
        }
        match self.text_field(&field)? {
            Ok(exact) => Ok(Node::Phrase { text, exact, slop }),
            Err(ff) => Ok(Node::Filter {
                field: ff,
                value: text,
            }),
        }
    }

    fn word(
        &self,
        field: Option<(usize, String)>,
        pos: usize,
        word: String,
    ) -> Result<Node, QueryError> {
        let which = self.text_field(&field)?;
        let exact = match which {
            Err(ff) => {
                return Ok(Node::Filter {
                    field: ff,
                    value: word,
                });
            }
            Ok(exact) => exact,
        };
        let (text, kind) = word_kind(&word, pos)?;
        Ok(Node::Word { text, exact, kind })
    }
}

/// Splits the `~N` / `*` suffix off a word.
fn word_kind(word: &str, pos: usize) -> Result<(String, WordKind), QueryError> {
    if let Some((base, edits)) = word.rsplit_once('~') {
        let n = word.chars().count();
        let edits = if edits.is_empty() {
            1
        } else {
            edits.parse::<u8>().map_err(|_| {
                QueryError::at(
                    pos + n - edits.chars().count(),
                    "`~` after a word needs 0, 1 or 2 (word~1)",
                )
            })?
        };
        if edits > MAX_EDITS {
            return Err(QueryError::at(
                pos,
                format!("at most {MAX_EDITS} edits: `{base}~{MAX_EDITS}`"),
            ));
        }
        if base.is_empty() {
            return Err(QueryError::at(pos, "`~` needs a word before it"));
        }
        return Ok((base.to_string(), WordKind::Fuzzy(edits)));
    }
    if let Some(star) = word.find('*') {
        let base = &word[..star];
        if star + 1 != word.len() {
            return Err(QueryError::at(
                pos + word[..star].chars().count(),
                "`*` only at the end of a word (mobil*)",
            ));
        }
        if base.chars().count() < MIN_PREFIX_CHARS {
            return Err(QueryError::at(
                pos,
                format!("a prefix needs at least {MIN_PREFIX_CHARS} letters before `*`"),
            ));
        }
        return Ok((base.to_string(), WordKind::Prefix));
    }
    Ok((word.to_string(), WordKind::Plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Node {
        Node::Word {
            text: text.into(),
            exact: false,
            kind: WordKind::Plain,
        }
    }

    #[test]
    fn parses_the_grammar() {
        assert_eq!(
            parse("personal mobile", false).unwrap(),
            Node::And(vec![w("personal"), w("mobile")])
        );
        assert_eq!(
            parse("a OR b AND c", false).unwrap(),
            Node::Or(vec![w("a"), Node::And(vec![w("b"), w("c")])])
        );
        assert_eq!(
            parse("(a OR b) -c", false).unwrap(),
            Node::And(vec![
                Node::Or(vec![w("a"), w("b")]),
                Node::Not(Box::new(w("c")))
            ])
        );
        assert_eq!(
            parse("«не телефонный разговор»~2", false).unwrap(),
            Node::Phrase {
                text: "не телефонный разговор".into(),
                exact: false,
                slop: 2
            }
        );
        assert_eq!(
            parse("mobil* persnal~1 exact:\"Komórki\" speaker:agent", false).unwrap(),
            Node::And(vec![
                Node::Word {
                    text: "mobil".into(),
                    exact: false,
                    kind: WordKind::Prefix
                },
                Node::Word {
                    text: "persnal".into(),
                    exact: false,
                    kind: WordKind::Fuzzy(1)
                },
                Node::Phrase {
                    text: "Komórki".into(),
                    exact: true,
                    slop: 0
                },
                Node::Filter {
                    field: FilterField::Speaker,
                    value: "agent".into()
                },
            ])
        );
        // Hebrew gershayim typed as an ASCII quote stays in the word.
        assert_eq!(parse("צה\"ל", false).unwrap(), w("צה\"ל"));
        assert_eq!(
            parse("\"דובר צה\"ל אמר\"", false).unwrap(),
            Node::Phrase {
                text: "דובר צה\"ל אמר".into(),
                exact: false,
                slop: 0
            }
        );
        assert_eq!(
            parse("word~", true).unwrap(),
            Node::Word {
                text: "word".into(),
                exact: true,
                kind: WordKind::Fuzzy(1)
            }
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let err = |q: &str| parse(q, false).unwrap_err();
        assert_eq!(err("\"personal mobile").position, 0);
        assert!(err("\"personal mobile").message.contains("never closed"));
        let e = err("mobile foo:bar");
        assert_eq!(e.position, 7);
        assert!(e.message.contains("unknown field `foo`"), "{e:?}");
        assert_eq!(err("(a OR b").position, 0);
        assert_eq!(err("a b)").position, 3);
        assert!(err("word~3").message.contains("at most 2"));
        assert!(err("m*").message.contains("at least 2"));
        assert!(err("mo*bile").message.contains("only at the end"));
        assert!(err("NOT mobile").message.contains("nothing to find"));
        assert!(err("speaker:agent").message.contains("nothing to find"));
        assert!(err("").message.contains("empty"));
        assert!(err("a AND").message.contains("ends where a word"));
        assert!(err("OR a").message.contains("both sides"));
        let rendered = err("mobile foo:bar").render("mobile foo:bar");
        assert!(rendered.ends_with("\n         ^"), "{rendered}");
    }
}
