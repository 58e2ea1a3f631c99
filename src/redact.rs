//! Personal data redaction: masks card numbers, phone numbers, IBANs, email
//! addresses and PESELs in transcript text before anything is written.
//!
//! When redaction is on, the unredacted text must never reach a file, an
//! index or a log, so everything here is a pure function of its arguments: no
//! I/O, and the text is never logged. [`redact`] returns the text with each
//! found item replaced by its mask (`[card]`, `[phone]`, `[iban]`, `[email]`,
//! `[pesel]`) and how many of each kind were masked. A mask covers exactly
//! the original bytes of the masked words, from the first word's start to the
//! last word's end; every other byte of the text is kept as it was, so
//! punctuation around a number (`567,` `(601)`) and the spacing stay.
//!
//! # Reading numbers
//!
//! Whisper writes numbers mostly as digits (`4111 1111 1111 1111`,
//! `+48 601 234 567`, `601-234-567`), but on telephony audio often as words
//! (`four five six seven`, `cztery pięć sześć`, `четыре пять шесть`) or mixed
//! (`601 two three four`), and the groups a speaker makes are not the groups
//! of the number. So a run of consecutive *digit words* is read as one digit
//! sequence, whatever its grouping:
//!
//! - a token of ASCII digits, possibly with internal `-`, `.`, `/` separators
//!   (`601-234-567`) or a leading `+`; a `+` token always starts a new run;
//!   a Hebrew one-letter prefix joined with a hyphen (`ב-054-1234567`) or a
//!   label joined with a colon (`tel:601234567`) is not part of the number;
//! - a single-digit number word of the segment's language (only there: `one`
//!   is not a digit in a Polish call): en `zero oh o one … nine` and
//!   `double X` = XX, `triple X` = XXX; pl `zero jeden/jedna/jedno dwa/dwie
//!   trzy cztery pięć sześć siedem osiem dziewięć` (also `piec szesc
//!   dziewiec`); ru `ноль/нуль один/одна/одно два/две три четыре пять шесть
//!   семь восемь девять`. Hebrew and other languages: digits only. Words are
//!   matched case-insensitively, surrounding punctuation (`five,`) ignored;
//! - `plus` / `плюс` / a lone `+` right before a digit word is a leading `+`.
//!
//! Separators between groups (a lone `,` `-` `–` `/` `.`, or the words
//! `dash`, `hyphen`, `myślnik`, `тире`, `дефис`) keep a run going; any other
//! word ends it. Tokens that read as a date (`14.05.2026`, `2026-05-14`,
//! `12/28`) or a time (`10:30`) end a run too, so a date said just before a
//! phone number does not join it.
//!
//! A run is first judged as a whole. When the whole is none of the kinds (say
//! a card number followed by its CVV, or two phone numbers in a row), it is
//! cut at word boundaries into the parts that mask the most digits (then the
//! most in checksummed parts, then the fewest parts). Digits left unmasked may stand next to a checksummed part
//! (iban, card, pesel: `[card] 123`) but never next to a phone part, so a
//! 16-digit number failing Luhn is not masked piecemeal as a 12-digit phone.
//!
//! # The kinds
//!
//! - **card**: 13–19 digits passing the Luhn check, first digit not `0`, no
//!   leading `+`. A sequence failing Luhn is not a card (it may still be a
//!   phone).
//! - **pesel**: exactly 11 digits with a valid check digit (weights
//!   1,3,7,9,1,3,7,9,1,3; check = (10 − sum mod 10) mod 10) and a valid birth
//!   date (month with the century offsets +0/+20/+40/+60/+80, day within that
//!   month). Checked before phone, since 11 digits is also a phone length.
//! - **iban**: two letters, two check digits and 11–30 alphanumerics, written
//!   in one token or in groups (`PL61 1090 1014 …`, `GB82 WEST 1234 …`, also
//!   `PL 61 1090 …`), with the registry length for its country when the
//!   country is known, passing ISO 7064 mod-97; also a Polish account number
//!   (NRB) of 26 digits that passes mod-97 with `PL` in front. A sequence
//!   failing mod-97 is not an iban. A found IBAN is never read as card or
//!   phone pieces, whether or not `iban` is requested.
//! - **phone**: 9–15 digits (a leading `+`, or `00` and 9–15 more) not taken
//!   by card, pesel or iban. Fewer than 9 digits are left alone: prices,
//!   times, years and amounts (`10:30`, `2026`, `12 500 złotych`) are far
//!   more common than short local numbers.
//! - **email**: the written form `local@domain.tld` (one token); and the
//!   spoken form in en/pl/ru, `<word> at|małpa|собака <word> dot|kropka|точка
//!   <tld>` (more `dot <word>` allowed, or a written `gmail.com` after the
//!   @-word). It is kept conservative because `at` and `dot` are ordinary
//!   words: the last domain word must be one of `com pl ru net org eu uk de
//!   il io info biz co` (or `ру ком нет орг инфо`), and the local part is the
//!   one word before the @-word, or more words only when joined by the
//!   dot-word (`john dot smith at gmail dot com` is masked whole). In English
//!   a function word (`look at`, `me at`) is not taken as a local part.
//!
//! # Overlaps and the kinds filter
//!
//! The longest, most specific reading wins, in the order iban, card, pesel,
//! phone, and no byte is masked twice: IBANs are found first, then emails,
//! then digit runs on the words left. Only the kinds in `kinds` are masked:
//! a number is masked as the most specific *requested* kind it qualifies for
//! (a valid PESEL is masked as `[phone]` when only `phone` is requested,
//! since it is a phone-shaped number that should not leak), and a number
//! that is only an unrequested kind (a 16-digit card when only `phone` is
//! requested) is left alone. An empty `kinds` returns the text unchanged.

use std::collections::BTreeMap;

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

use crate::text::analyze::Lang;

/// A kind of personal data; names as users write them in the pipeline file: `redact = ["card", "phone", "iban", "email", "pesel"]`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RedactKind {
    Card,
    Phone,
    Iban,
    Email,
    Pesel,
}

impl RedactKind {
    /// Every kind, in declaration order.
    pub const ALL: [RedactKind; 5] = [
        RedactKind::Card,
        RedactKind::Phone,
        RedactKind::Iban,
        RedactKind::Email,
        RedactKind::Pesel,
    ];

    /// The name as written in the pipeline file (`card`, `phone`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RedactKind::Card => "card",
            RedactKind::Phone => "phone",
            RedactKind::Iban => "iban",
            RedactKind::Email => "email",
            RedactKind::Pesel => "pesel",
        }
    }

    /// The text that replaces a masked item.
    fn mask(self) -> &'static str {
        match self {
            RedactKind::Card => "[card]",
            RedactKind::Phone => "[phone]",
            RedactKind::Iban => "[iban]",
            RedactKind::Email => "[email]",
            RedactKind::Pesel => "[pesel]",
        }
    }
}

/// The text with every found item replaced by its mask `[card]`, `[phone]`, `[iban]`, `[email]`, `[pesel]`, and how many of each were masked.
///
/// `counts` holds only the kinds masked at least once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub counts: BTreeMap<RedactKind, u32>,
}

/// Masks the personal data of the requested `kinds` in `text` (see the
/// module docs for what each kind detects).
///
/// `language` is the segment's ISO 639-1 code ("pl", "ru", "en", "he", or other) and decides which spoken number words are read as digits.
pub fn redact(text: &str, language: &str, kinds: &[RedactKind]) -> Redacted {
    let mut counts = BTreeMap::new();
    if kinds.is_empty() || text.is_empty() {
        return Redacted {
            text: text.to_string(),
            counts,
        };
    }
    let lang = Lang::from_code(language);
    let tokens = tokenize(text);
    let mut taken = vec![false; tokens.len()];
    let mut spans: Vec<Span> = Vec::new();

    find_ibans(&tokens, &mut taken, kinds, &mut spans);
    if kinds.contains(&RedactKind::Email) {
        find_emails(&tokens, lang, &mut taken, &mut spans);
    }
    find_digit_runs(&tokens, lang, &taken, kinds, &mut spans);

    spans.sort_by_key(|s| s.from);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in &spans {
        debug_assert!(span.from >= at && span.to > span.from, "overlapping masks");
        if span.from < at {
            continue;
        }
        out.push_str(&text[at..span.from]);
        out.push_str(span.kind.mask());
        *counts.entry(span.kind).or_insert(0) += 1;
        at = span.to;
    }
    out.push_str(&text[at..]);
    Redacted { text: out, counts }
}

/// A byte range of the original text to replace by a mask.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: usize,
    to: usize,
    kind: RedactKind,
}

// ---------------------------------------------------------------------------
// Tokens

/// One whitespace-separated chunk of the text.
#[derive(Debug)]
struct Token<'a> {
    /// The chunk as written.
    chunk: &'a str,
    /// The chunk without surrounding punctuation (a leading `+` kept), and
    /// without a Hebrew prefix or a `label:` before a number or address;
    /// empty for punctuation.
    core: &'a str,
    /// Byte range of `core` in the text (of the chunk when `core` is empty).
    from: usize,
    to: usize,
    /// `core` in NFC, lowercased.
    lower: String,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            get_general_category(c),
            GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::EnclosingMark
        )
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                tokens.push(token(text, s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    tokens
}

fn token(text: &str, start: usize, end: usize) -> Token<'_> {
    let chunk = &text[start..end];
    let lead = chunk.trim_start_matches(|c: char| !is_word_char(c) && c != '+');
    let mut core = lead.trim_end_matches(|c: char| !is_word_char(c));
    let mut from = start + (chunk.len() - lead.len());
    if let Some(offset) = hebrew_prefix_len(core).or_else(|| label_prefix_len(core)) {
        core = &core[offset..];
        from += offset;
    }
    if core.is_empty() {
        return Token {
            chunk,
            core,
            from: start,
            to: end,
            lower: String::new(),
        };
    }
    Token {
        chunk,
        core,
        from,
        to: from + core.len(),
        lower: core.nfc().collect::<String>().to_lowercase(),
    }
}

/// In `ב-054-1234567` the Hebrew prefix (one to three letters and a hyphen
/// or maqaf) is a word of its own: the byte length up to the digits.
fn hebrew_prefix_len(core: &str) -> Option<usize> {
    let mut letters = 0;
    for (i, c) in core.char_indices() {
        match c {
            '\u{05D0}'..='\u{05EA}' => letters += 1,
            '-' | '\u{05BE}' if (1..=3).contains(&letters) => {
                let rest = &core[i + c.len_utf8()..];
                return rest
                    .starts_with(|d: char| d.is_ascii_digit() || d == '+')
                    .then_some(i + c.len_utf8());
            }
            _ => return None,
        }
    }
    None
}

/// In `tel:601234567`, `PESEL:44051401359` or `mailto:jan@wp.pl` the label
/// is a word of its own: the byte length up to the number or address.
fn label_prefix_len(core: &str) -> Option<usize> {
    let (label, rest) = core.split_once(':')?;
    (!label.is_empty()
        && label.chars().all(char::is_alphabetic)
        && (rest.starts_with(|c: char| c.is_ascii_digit() || c == '+') || rest.contains('@')))
    .then_some(label.len() + 1)
}

// ---------------------------------------------------------------------------
// Digit runs

/// A digit token: its digits and whether it had a leading `+`. `None` for
/// anything else, dates and times included.
fn digit_token(core: &str) -> Option<(String, bool)> {
    let (plus, body) = match core.strip_prefix('+') {
        Some(body) => (true, body),
        None => (false, core),
    };
    let mut digits = String::new();
    let mut groups: Vec<&str> = Vec::new();
    let mut seps: Vec<char> = Vec::new();
    let mut group_start = 0;
    for (i, c) in body.char_indices() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if matches!(c, '-' | '.' | '/' | '\u{2011}' | '\u{2013}') && i > group_start {
            groups.push(&body[group_start..i]);
            seps.push(c);
            group_start = i + c.len_utf8();
        } else {
            return None;
        }
    }
    if group_start >= body.len() {
        return None;
    }
    groups.push(&body[group_start..]);
    if !plus && looks_like_date(&groups, &seps) {
        return None;
    }
    Some((digits, plus))
}

/// `14.05.2026`, `14/05/26`, `2026-05-14`, `14.05`, `12/28` (card expiry).
fn looks_like_date(groups: &[&str], seps: &[char]) -> bool {
    let num = |g: &str| g.parse::<u32>().unwrap_or(u32::MAX);
    let day = |g: &str| g.len() <= 2 && (1..=31).contains(&num(g));
    let month = |g: &str| g.len() <= 2 && (1..=12).contains(&num(g));
    let same_seps = seps.windows(2).all(|w| w[0] == w[1]);
    match groups {
        [d, m, y] if same_seps => {
            (day(d) && month(m) && matches!(y.len(), 2 | 4))
                || (y.len() <= 2 && d.len() == 4 && month(m) && day(y))
        }
        [a, b] => match seps[0] {
            '.' => day(a) && month(b),
            '/' => (month(a) && b.len() == 2) || (day(a) && month(b)),
            _ => false,
        },
        _ => false,
    }
}

fn digit_word(lang: Lang, word: &str) -> Option<u8> {
    let digit = match lang {
        Lang::En => match word {
            "zero" | "oh" | "o" => 0,
            "one" => 1,
            "two" => 2,
            "three" => 3,
            "four" => 4,
            "five" => 5,
            "six" => 6,
            "seven" => 7,
            "eight" => 8,
            "nine" => 9,
            _ => return None,
        },
        Lang::Pl => match word {
            "zero" => 0,
            "jeden" | "jedna" | "jedno" => 1,
            "dwa" | "dwie" => 2,
            "trzy" => 3,
            "cztery" => 4,
            "pięć" | "piec" => 5,
            "sześć" | "szesc" => 6,
            "siedem" => 7,
            "osiem" => 8,
            "dziewięć" | "dziewiec" => 9,
            _ => return None,
        },
        Lang::Ru => match word {
            "ноль" | "нуль" => 0,
            "один" | "одна" | "одно" => 1,
            "два" | "две" => 2,
            "три" => 3,
            "четыре" => 4,
            "пять" => 5,
            "шесть" => 6,
            "семь" => 7,
            "восемь" => 8,
            "девять" => 9,
            _ => return None,
        },
        Lang::He | Lang::Other => return None,
    };
    Some(digit)
}

fn is_plus_word(lang: Lang, token: &Token) -> bool {
    token.chunk == "+"
        || match lang {
            Lang::En | Lang::Pl => token.lower == "plus",
            Lang::Ru => token.lower == "плюс",
            Lang::He | Lang::Other => false,
        }
}

/// A lone separator between digit groups: punctuation such as `,` `-`, or a
/// spoken dash.
fn is_separator(lang: Lang, token: &Token) -> bool {
    if token.core.is_empty() {
        return token
            .chunk
            .chars()
            .all(|c| matches!(c, ',' | '-' | '.' | '/' | '\u{2013}' | '\u{2014}'));
    }
    match lang {
        Lang::En => matches!(token.lower.as_str(), "dash" | "hyphen"),
        Lang::Pl => matches!(token.lower.as_str(), "myślnik" | "myslnik"),
        Lang::Ru => matches!(token.lower.as_str(), "тире" | "дефис"),
        Lang::He | Lang::Other => false,
    }
}

/// One element of a digit run: tokens `first..=last` read as `digits`.
#[derive(Debug)]
struct Item {
    first: usize,
    last: usize,
    digits: String,
    plus: bool,
}

/// The digits a token starts a run with, if it can stand right after a
/// `plus` word: a digit word or a digit token without its own `+`.
fn starts_digits(lang: Lang, token: &Token) -> bool {
    digit_word(lang, &token.lower).is_some()
        || digit_token(token.core).is_some_and(|(_, plus)| !plus)
}

fn find_digit_runs(
    tokens: &[Token],
    lang: Lang,
    taken: &[bool],
    kinds: &[RedactKind],
    spans: &mut Vec<Span>,
) {
    let mut run: Vec<Item> = Vec::new();
    let flush = |run: &mut Vec<Item>, spans: &mut Vec<Span>| {
        if !run.is_empty() {
            judge_run(run, tokens, kinds, spans);
            run.clear();
        }
    };
    let free = |i: usize| i < tokens.len() && !taken[i];
    let mut i = 0;
    while i < tokens.len() {
        if taken[i] {
            flush(&mut run, spans);
            i += 1;
            continue;
        }
        let token = &tokens[i];
        if let Some((digits, plus)) = digit_token(token.core) {
            if plus {
                flush(&mut run, spans);
            }
            run.push(Item {
                first: i,
                last: i,
                digits,
                plus,
            });
            i += 1;
        } else if let Some(d) = digit_word(lang, &token.lower) {
            run.push(Item {
                first: i,
                last: i,
                digits: d.to_string(),
                plus: false,
            });
            i += 1;
        } else if let (Lang::En, Some(times @ (2 | 3))) = (
            lang,
            match token.lower.as_str() {
                "double" => Some(2),
                "triple" => Some(3),
                _ => None,
            },
        ) && free(i + 1)
            && let Some(d) = digit_word(lang, &tokens[i + 1].lower)
        {
            run.push(Item {
                first: i,
                last: i + 1,
                digits: d.to_string().repeat(times),
                plus: false,
            });
            i += 2;
        } else if is_plus_word(lang, token) && free(i + 1) && starts_digits(lang, &tokens[i + 1]) {
            flush(&mut run, spans);
            run.push(Item {
                first: i,
                last: i,
                digits: String::new(),
                plus: true,
            });
            i += 1;
        } else if !run.is_empty() && is_separator(lang, token) {
            i += 1;
        } else {
            flush(&mut run, spans);
            i += 1;
        }
    }
    flush(&mut run, spans);
}

/// The digits of `items` and whether they begin with a `+`.
fn sequence(items: &[Item]) -> (String, bool) {
    let digits = items.iter().map(|it| it.digits.as_str()).collect();
    (digits, items.first().is_some_and(|it| it.plus))
}

/// The kinds a digit sequence qualifies for, most specific first.
fn qualifies(digits: &str, plus: bool) -> Vec<RedactKind> {
    let mut found = Vec::new();
    let n = digits.len();
    if !plus {
        if n == 26 && mod97_is_one(&format!("PL{digits}")) {
            found.push(RedactKind::Iban);
        }
        if (13..=19).contains(&n) && !digits.starts_with('0') && luhn_valid(digits) {
            found.push(RedactKind::Card);
        }
        if n == 11 && pesel_valid(digits) {
            found.push(RedactKind::Pesel);
        }
    }
    if is_phone(digits, plus) {
        found.push(RedactKind::Phone);
    }
    found
}

fn is_checksummed(kind: RedactKind) -> bool {
    matches!(
        kind,
        RedactKind::Iban | RedactKind::Card | RedactKind::Pesel
    )
}

fn is_phone(digits: &str, plus: bool) -> bool {
    let n = digits.len();
    (9..=15).contains(&n) || (!plus && digits.starts_with("00") && (11..=17).contains(&n))
}

/// The first of `found` (most specific first) that was requested.
fn pick(found: &[RedactKind], kinds: &[RedactKind]) -> Option<RedactKind> {
    found.iter().copied().find(|k| kinds.contains(k))
}

/// Masks what a run of digit items holds (see the module docs).
fn judge_run(items: &[Item], tokens: &[Token], kinds: &[RedactKind], spans: &mut Vec<Span>) {
    let mut mask = |a: usize, b: usize, found: &[RedactKind]| {
        if let Some(kind) = pick(found, kinds) {
            spans.push(Span {
                from: tokens[items[a].first].from,
                to: tokens[items[b - 1].last].to,
                kind,
            });
        }
    };
    let (digits, plus) = sequence(items);
    let whole = qualifies(&digits, plus);
    if !whole.is_empty() {
        mask(0, items.len(), &whole);
        return;
    }
    if digits.len() < 9 {
        return;
    }

    for (a, b, found) in split_run(items) {
        mask(a, b, &found);
    }
}

/// What the item before a place in a split is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// The start of the run, or a checksummed part: anything may follow.
    Free,
    /// A phone number: not followed by an unmasked item.
    Phone,
    /// An unmasked item: not followed by a phone number.
    Left,
}

/// The best split so far of the items before a place.
#[derive(Debug, Clone, Copy)]
struct Cell {
    /// Digits in masked parts, more is better.
    covered: usize,
    /// Digits in checksummed parts (iban, card, pesel), more is better.
    checked: usize,
    /// Masked parts, fewer is better.
    parts: usize,
    /// Where the last part (masked or one unmasked item) began, and the state
    /// before it.
    from: usize,
    before: After,
    masked: bool,
}

impl Cell {
    /// Masks more digits; then more of them checksummed; then in fewer parts.
    fn beats(&self, other: &Cell) -> bool {
        (self.covered, self.checked, std::cmp::Reverse(self.parts))
            > (other.covered, other.checked, std::cmp::Reverse(other.parts))
    }
}

/// Cuts a run that as a whole is none of the kinds into parts that are, as
/// item ranges with the kinds each qualifies for. Of all the ways to cut it,
/// the one masking the most digits wins, then the one with more of them in
/// checksummed parts, then the one with fewer parts;
/// items left unmasked may stand next to a checksummed part (the CVV after
/// a card) but not next to a phone part, so a number that is not one is not
/// masked piecemeal as a phone (a card failing Luhn).
fn split_run(items: &[Item]) -> Vec<(usize, usize, Vec<RedactKind>)> {
    let n = items.len();
    let slot = |a: After| a as usize;
    let mut best: Vec<[Option<Cell>; 3]> = vec![[None; 3]; n + 1];
    best[0][slot(After::Free)] = Some(Cell {
        covered: 0,
        checked: 0,
        parts: 0,
        from: 0,
        before: After::Free,
        masked: false,
    });
    let relax = |best: &mut Vec<[Option<Cell>; 3]>, at: usize, state: After, cell: Cell| {
        let old = &mut best[at][slot(state)];
        let better = old.is_none_or(|o| cell.beats(&o));
        if better {
            *old = Some(cell);
        }
    };
    for k in 0..n {
        for state in [After::Free, After::Phone, After::Left] {
            let Some(cell) = best[k][slot(state)] else {
                continue;
            };
            if state != After::Phone {
                let left = Cell {
                    from: k,
                    before: state,
                    masked: false,
                    ..cell
                };
                relax(&mut best, k + 1, After::Left, left);
            }
            let mut len = 0;
            for m in k + 1..=n {
                len += items[m - 1].digits.len();
                if len > 26 {
                    break;
                }
                let (digits, plus) = sequence(&items[k..m]);
                let found = qualifies(&digits, plus);
                let checked = found.iter().any(|&kind| is_checksummed(kind));
                let next = if checked {
                    After::Free
                } else if found.contains(&RedactKind::Phone) && state != After::Left {
                    After::Phone
                } else {
                    continue;
                };
                let part = Cell {
                    covered: cell.covered + digits.len(),
                    checked: cell.checked + if checked { digits.len() } else { 0 },
                    parts: cell.parts + 1,
                    from: k,
                    before: state,
                    masked: true,
                };
                relax(&mut best, m, next, part);
            }
        }
    }
    let mut end = None;
    for state in [After::Free, After::Phone, After::Left] {
        if let Some(cell) = best[n][slot(state)] {
            let better = end.is_none_or(|(_, e): (After, Cell)| cell.beats(&e));
            if better {
                end = Some((state, cell));
            }
        }
    }
    let mut parts = Vec::new();
    let mut at = n;
    let mut state = end.map_or(After::Free, |(s, _)| s);
    while at > 0 {
        let Some(cell) = best[at][slot(state)] else {
            break;
        };
        if cell.masked {
            let (digits, plus) = sequence(&items[cell.from..at]);
            parts.push((cell.from, at, qualifies(&digits, plus)));
        }
        at = cell.from;
        state = cell.before;
    }
    parts.reverse();
    parts
}

// ---------------------------------------------------------------------------
// Checksums

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn pesel_valid(digits: &str) -> bool {
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    if d.len() != 11 {
        return false;
    }
    const WEIGHTS: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = WEIGHTS.iter().zip(&d).map(|(w, x)| w * x).sum();
    if (10 - sum % 10) % 10 != d[10] {
        return false;
    }
    let yy = d[0] * 10 + d[1];
    let mm = d[2] * 10 + d[3];
    let dd = d[4] * 10 + d[5];
    let (century, month) = match mm {
        1..=12 => (1900, mm),
        21..=32 => (2000, mm - 20),
        41..=52 => (2100, mm - 40),
        61..=72 => (2200, mm - 60),
        81..=92 => (1800, mm - 80),
        _ => return false,
    };
    let year = century + yy;
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=days).contains(&dd)
}

/// ISO 7064 mod-97-10 of an IBAN (`CCkk…`, ASCII alphanumerics): true when
/// the rearranged number is 1 mod 97.
fn mod97_is_one(iban: &str) -> bool {
    if iban.len() < 5 || !iban.is_ascii() {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let Some(v) = c.to_digit(36) else {
            return false;
        };
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    rem == 1
}

// ---------------------------------------------------------------------------
// IBANs

/// IBAN lengths of the registry, for the countries likely in these calls
/// and their neighbours; other country codes may have any length 15–34.
fn iban_length(country: &str) -> Option<usize> {
    let len = match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FO" | "GL" | "NL" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "XK" => 20,
        "CH" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "CR" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" | "VA" => 22,
        "AE" | "GI" | "IL" | "IQ" | "TL" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "PT" | "ST" => 25,
        "IS" | "TR" => 26,
        "FR" | "GR" | "IT" | "MC" | "MR" | "SM" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "PL" | "SV" => 28,
        "BR" | "EG" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        "RU" => 33,
        _ => return None,
    };
    Some(len)
}

fn is_ascii_alnum(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The tokens an IBAN starting at `i` could span: its first token(s) and
/// the text they contribute, or `None` when no IBAN starts there.
fn iban_start(tokens: &[Token], taken: &[bool], i: usize) -> Option<(usize, String)> {
    let core = tokens[i].core;
    let b = core.as_bytes();
    if b.len() >= 4
        && is_ascii_alnum(core)
        && b[..2].iter().all(u8::is_ascii_alphabetic)
        && b[2..4].iter().all(u8::is_ascii_digit)
    {
        return Some((i, core.to_ascii_uppercase()));
    }
    // `PL 61 1090 …`: the country code on its own.
    if b.len() == 2 && b.iter().all(u8::is_ascii_uppercase) && i + 1 < tokens.len() && !taken[i + 1]
    {
        let next = tokens[i + 1].core;
        let nb = next.as_bytes();
        if nb.len() >= 2 && is_ascii_alnum(next) && nb[..2].iter().all(u8::is_ascii_digit) {
            return Some((i + 1, format!("{core}{}", next.to_ascii_uppercase())));
        }
    }
    None
}

fn find_ibans(tokens: &[Token], taken: &mut [bool], kinds: &[RedactKind], spans: &mut Vec<Span>) {
    let mut i = 0;
    while i < tokens.len() {
        if taken[i] {
            i += 1;
            continue;
        }
        let Some((mut last, mut text)) = iban_start(tokens, taken, i) else {
            i += 1;
            continue;
        };
        let wanted = iban_length(&text[..2]);
        let fits = |s: &str| match wanted {
            Some(len) => s.len() == len,
            None => (15..=34).contains(&s.len()),
        };
        let mut best = (fits(&text) && mod97_is_one(&text)).then_some(last);
        while text.len() < 34 && last + 1 < tokens.len() && !taken[last + 1] {
            let next = &tokens[last + 1];
            if !is_ascii_alnum(next.core) || !next.chunk.starts_with(next.core) {
                break;
            }
            last += 1;
            text.push_str(&next.core.to_ascii_uppercase());
            if fits(&text) && mod97_is_one(&text) {
                best = Some(last);
            }
            if next.core.len() != next.chunk.len() {
                // Punctuation after the group ends the number.
                break;
            }
        }
        match best {
            Some(end) => {
                for t in &mut taken[i..=end] {
                    *t = true;
                }
                if kinds.contains(&RedactKind::Iban) {
                    spans.push(Span {
                        from: tokens[i].from,
                        to: tokens[end].to,
                        kind: RedactKind::Iban,
                    });
                }
                i = end + 1;
            }
            None => i += 1,
        }
    }
}

// ---------------------------------------------------------------------------
// Emails

const TLDS: [&str; 18] = [
    "com", "pl", "ru", "net", "org", "eu", "uk", "de", "il", "io", "info", "biz", "co", "ру",
    "ком", "нет", "орг", "инфо",
];

/// English words that stand before `at` without being an address.
const EN_NOT_LOCAL: [&str; 28] = [
    "a", "am", "an", "and", "are", "arrive", "arrived", "be", "been", "from", "her", "him", "i",
    "is", "it", "look", "looked", "looking", "me", "or", "she", "that", "the", "them", "to", "us",
    "was", "you",
];

fn is_at_word(lang: Lang, token: &Token) -> bool {
    token.chunk == "@"
        || match lang {
            Lang::En => token.lower == "at",
            Lang::Pl => matches!(token.lower.as_str(), "małpa" | "malpa"),
            Lang::Ru => token.lower == "собака",
            Lang::He | Lang::Other => false,
        }
}

fn is_dot_word(lang: Lang, token: &Token) -> bool {
    match lang {
        Lang::En => token.lower == "dot",
        Lang::Pl => token.lower == "kropka",
        Lang::Ru => token.lower == "точка",
        Lang::He | Lang::Other => false,
    }
}

/// A word that can be (part of) the local part of a spoken address.
fn is_local_word(lang: Lang, token: &Token) -> bool {
    !token.lower.is_empty()
        && token
            .lower
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && token.lower.chars().any(char::is_alphanumeric)
        && !is_at_word(lang, token)
        && !is_dot_word(lang, token)
        && (lang != Lang::En || !EN_NOT_LOCAL.contains(&token.lower.as_str()))
}

/// A word that can be one label of a spoken domain.
fn is_label_word(token: &Token) -> bool {
    !token.lower.is_empty() && token.lower.chars().all(|c| c.is_alphanumeric() || c == '-')
}

/// A domain written in one word after a spoken @-word: `gmail.com`.
fn is_written_domain(word: &str) -> bool {
    let labels: Vec<&str> = word.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|tld| TLDS.contains(tld))
}

/// A written address: one token `local@domain.tld`.
fn is_written_email(core: &str) -> bool {
    let Some((local, domain)) = core.split_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-'))
        && labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
}

/// The last token of a spoken domain starting at `i`, if it ends in a known
/// top-level domain.
fn spoken_domain_end(tokens: &[Token], taken: &[bool], lang: Lang, i: usize) -> Option<usize> {
    let free = |k: usize| k < tokens.len() && !taken[k];
    if !free(i) {
        return None;
    }
    if tokens[i].lower.contains('.') {
        return is_written_domain(&tokens[i].lower).then_some(i);
    }
    if !is_label_word(&tokens[i]) || is_dot_word(lang, &tokens[i]) {
        return None;
    }
    let mut end = None;
    let mut k = i;
    while free(k + 2) && is_dot_word(lang, &tokens[k + 1]) && is_label_word(&tokens[k + 2]) {
        k += 2;
        if TLDS.contains(&tokens[k].lower.as_str()) {
            end = Some(k);
        }
    }
    end
}

fn find_emails(tokens: &[Token], lang: Lang, taken: &mut [bool], spans: &mut Vec<Span>) {
    let mut i = 0;
    while i < tokens.len() {
        if taken[i] {
            i += 1;
            continue;
        }
        if is_written_email(tokens[i].core) {
            taken[i] = true;
            spans.push(Span {
                from: tokens[i].from,
                to: tokens[i].to,
                kind: RedactKind::Email,
            });
            i += 1;
            continue;
        }
        let spoken = i > 0
            && !taken[i - 1]
            && is_at_word(lang, &tokens[i])
            && is_local_word(lang, &tokens[i - 1]);
        if let Some(end) = spoken
            .then(|| spoken_domain_end(tokens, taken, lang, i + 1))
            .flatten()
        {
            // `john dot smith at …`: earlier words joined by the dot-word.
            let mut start = i - 1;
            while start >= 2
                && !taken[start - 1]
                && !taken[start - 2]
                && is_dot_word(lang, &tokens[start - 1])
                && is_local_word(lang, &tokens[start - 2])
            {
                start -= 2;
            }
            for t in &mut taken[start..=end] {
                *t = true;
            }
            spans.push(Span {
                from: tokens[start].from,
                to: tokens[end].to,
                kind: RedactKind::Email,
            });
            i = end + 1;
            continue;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[RedactKind] = &RedactKind::ALL;

    fn r(text: &str, lang: &str, kinds: &[RedactKind]) -> Redacted {
        redact(text, lang, kinds)
    }

    fn counts(pairs: &[(RedactKind, u32)]) -> BTreeMap<RedactKind, u32> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn checksums() {
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(pesel_valid("44051401359"));
        assert!(!pesel_valid("44051401358"));
        assert!(!pesel_valid("44133101350"));
        assert!(mod97_is_one("PL61109010140000071219812874"));
        assert!(mod97_is_one("GB82WEST12345698765432"));
        assert!(mod97_is_one("DE89370400440532013000"));
        assert!(!mod97_is_one("PL62109010140000071219812874"));
    }

    #[test]
    fn card_in_digits_is_masked() {
        let out = r("my card is 4111 1111 1111 1111, thanks", "en", ALL);
        assert_eq!(out.text, "my card is [card], thanks");
        assert_eq!(out.counts, counts(&[(RedactKind::Card, 1)]));
        let out = r("karta 4111-1111-1111-1111.", "pl", ALL);
        assert_eq!(out.text, "karta [card].");
    }

    #[test]
    fn card_failing_luhn_is_not_a_card() {
        let text = "my card is 4111 1111 1111 1112, thanks";
        let out = r(text, "en", ALL);
        assert_eq!(out.text, text);
        assert!(out.counts.is_empty());
    }

    #[test]
    fn card_spoken_in_english() {
        let out = r(
            "it's four one one one one one one one one one one one one one one one. ok",
            "en",
            ALL,
        );
        assert_eq!(out.text, "it's [card]. ok");
        assert_eq!(out.counts, counts(&[(RedactKind::Card, 1)]));
        let out = r(
            "Four, triple one, triple one, triple one, triple one, triple one.",
            "en",
            ALL,
        );
        assert_eq!(out.text, "[card].");
    }

    #[test]
    fn card_followed_by_cvv_masks_the_card() {
        let out = r("4111 1111 1111 1111 123", "en", ALL);
        assert_eq!(out.text, "[card] 123");
    }

    #[test]
    fn pesel_valid_and_invalid() {
        let out = r("Mój PESEL to 44051401359.", "pl", ALL);
        assert_eq!(out.text, "Mój PESEL to [pesel].");
        assert_eq!(out.counts, counts(&[(RedactKind::Pesel, 1)]));
        // Wrong check digit: not a pesel; still 11 digits, so a phone.
        let out = r("Mój PESEL to 44051401358.", "pl", &[RedactKind::Pesel]);
        assert_eq!(out.text, "Mój PESEL to 44051401358.");
        let out = r("Mój PESEL to 44051401358.", "pl", ALL);
        assert_eq!(out.text, "Mój PESEL to [phone].");
        assert_eq!(out.counts, counts(&[(RedactKind::Phone, 1)]));
    }

    #[test]
    fn pesel_spoken_in_polish() {
        let out = r(
            "pesel cztery cztery zero pięć jeden cztery zero jeden trzy pięć dziewięć dziękuję",
            "pl",
            ALL,
        );
        assert_eq!(out.text, "pesel [pesel] dziękuję");
    }

    #[test]
    fn ibans_valid() {
        for (text, want) in [
            (
                "konto PL61 1090 1014 0000 0712 1981 2874, dziękuję",
                "konto [iban], dziękuję",
            ),
            (
                "account GB82 WEST 1234 5698 7654 32 please",
                "account [iban] please",
            ),
            ("IBAN: DE89 3704 0044 0532 0130 00.", "IBAN: [iban]."),
            ("IBAN DE89370400440532013000", "IBAN [iban]"),
            ("konto PL 61 1090 1014 0000 0712 1981 2874", "konto [iban]"),
            // NRB: 26 digits, valid with PL in front.
            (
                "numer konta 61 1090 1014 0000 0712 1981 2874 dziękuję",
                "numer konta [iban] dziękuję",
            ),
        ] {
            let out = r(text, "pl", ALL);
            assert_eq!(out.text, want, "{text}");
            assert_eq!(out.counts, counts(&[(RedactKind::Iban, 1)]), "{text}");
        }
    }

    #[test]
    fn iban_with_wrong_check_digits_is_not_masked() {
        let text = "konto PL62 1090 1014 0000 0712 1981 2874";
        let out = r(text, "pl", &[RedactKind::Iban]);
        assert_eq!(out.text, text);
        assert!(out.counts.is_empty());
        let out = r(text, "pl", ALL);
        assert!(!out.counts.contains_key(&RedactKind::Iban));
        let text = "numer konta 62 1090 1014 0000 0712 1981 2874";
        assert_eq!(r(text, "pl", &[RedactKind::Iban]).text, text);
    }

    #[test]
    fn phones_in_digits() {
        for (text, want) in [
            (
                "zadzwoń na +48 601 234 567, dobrze?",
                "zadzwoń na [phone], dobrze?",
            ),
            ("numer 601-234-567.", "numer [phone]."),
            ("numer (601) 234 567", "numer ([phone]"),
            ("0048 601 234 567", "[phone]"),
            ("Tel.:  601 234 567 — dzięki", "Tel.:  [phone] — dzięki"),
            ("plus 48 601 234 567", "[phone]"),
        ] {
            let out = r(text, "pl", ALL);
            assert_eq!(out.text, want, "{text}");
            assert_eq!(out.counts, counts(&[(RedactKind::Phone, 1)]), "{text}");
        }
    }

    #[test]
    fn phones_spoken_and_mixed() {
        let out = r(
            "мой номер восемь девять один шесть один два три четыре пять шесть семь, спасибо",
            "ru",
            ALL,
        );
        assert_eq!(out.text, "мой номер [phone], спасибо");
        assert_eq!(out.counts, counts(&[(RedactKind::Phone, 1)]));
        let out = r("call 601 two three four five six seven now", "en", ALL);
        assert_eq!(out.text, "call [phone] now");
        let out = r(
            "Sześć, zero, jeden, dwa, trzy, cztery, pięć, sześć, siedem.",
            "pl",
            ALL,
        );
        assert_eq!(out.text, "[phone].");
        let out = r("double oh seven, six five four - three two one", "en", ALL);
        assert_eq!(out.text, "[phone]");
    }

    #[test]
    fn two_phones_in_a_row() {
        let out = r("601 234 567, 602 345 678 ok", "pl", ALL);
        assert_eq!(out.text, "[phone], [phone] ok");
        assert_eq!(out.counts, counts(&[(RedactKind::Phone, 2)]));
        let out = r("tel 601 234 567 602 345 678", "pl", ALL);
        assert_eq!(out.text, "tel [phone] [phone]");
        let out = r("4111 1111 1111 1111 601 234 567 ok", "en", ALL);
        assert_eq!(out.text, "[card] [phone] ok");
        assert_eq!(
            out.counts,
            counts(&[(RedactKind::Card, 1), (RedactKind::Phone, 1)])
        );
    }

    #[test]
    fn number_words_follow_the_language() {
        let text = "cztery pięć sześć siedem osiem dziewięć jeden dwa trzy";
        assert_eq!(r(text, "en", ALL).text, text);
        assert_eq!(r(text, "pl", ALL).text, "[phone]");
        let text = "four five six seven eight nine one two three";
        assert_eq!(r(text, "he", ALL).text, text);
        assert_eq!(r(text, "ru", ALL).text, text);
    }

    #[test]
    fn hebrew_digits() {
        let out = r("המספר שלי 054-1234567 תודה", "he", ALL);
        assert_eq!(out.text, "המספר שלי [phone] תודה");
        let out = r("תתקשר ל-054-1234567.", "he", ALL);
        assert_eq!(out.text, "תתקשר ל-[phone].");
        let out = r("tel:601234567, PESEL:44051401359", "pl", ALL);
        assert_eq!(out.text, "tel:[phone], PESEL:[pesel]");
    }

    #[test]
    fn short_numbers_times_years_amounts_untouched() {
        for text in [
            "Meeting at 10:30 in 2026, it costs 12 500 złotych.",
            "Spotkanie 14.05.2026 o 10:30, kwota 12 500 zł, numer 1234567.",
            "room five six seven, floor two",
            "oh, I see",
        ] {
            let out = r(text, "en", ALL);
            assert_eq!(out.text, text);
            assert!(out.counts.is_empty());
        }
        let out = r("dnia 14.05.2026 601 234 567", "pl", ALL);
        assert_eq!(out.text, "dnia 14.05.2026 [phone]");
    }

    #[test]
    fn emails_written() {
        let out = r("write to jan.kowalski@gmail.com.", "en", ALL);
        assert_eq!(out.text, "write to [email].");
        assert_eq!(out.counts, counts(&[(RedactKind::Email, 1)]));
        let out = r("napisz <anna_n+x@firma.com.pl>, dzięki", "pl", ALL);
        assert_eq!(out.text, "napisz <[email]>, dzięki");
        let out = r("(mailto:jan@wp.pl)", "pl", ALL);
        assert_eq!(out.text, "(mailto:[email])");
        let out = r("почта ivan@yandex.ru", "he", ALL);
        assert_eq!(out.text, "почта [email]");
    }

    #[test]
    fn emails_spoken() {
        let out = r("it's john dot smith at gmail dot com, thanks", "en", ALL);
        assert_eq!(out.text, "it's [email], thanks");
        assert_eq!(out.counts, counts(&[(RedactKind::Email, 1)]));
        let out = r("mój mail to jan kowalski małpa gmail kropka com", "pl", ALL);
        assert_eq!(out.text, "mój mail to jan [email]");
        let out = r("Adres: Kowalski Małpa wp Kropka pl.", "pl", ALL);
        assert_eq!(out.text, "Adres: [email].");
        let out = r("почта иван собака яндекс точка ру", "ru", ALL);
        assert_eq!(out.text, "почта [email]");
        let out = r("mail jsmith at mail dot co dot uk ok", "en", ALL);
        assert_eq!(out.text, "mail [email] ok");
        let out = r("jan małpa gmail.com", "pl", ALL);
        assert_eq!(out.text, "[email]");
    }

    #[test]
    fn not_emails() {
        for text in [
            "we met at noon",
            "look at google dot com",
            "john at example dot xyz",
            "it was at the office dot",
        ] {
            let out = r(text, "en", ALL);
            assert_eq!(out.text, text);
            assert!(out.counts.is_empty());
        }
        // Spoken forms are read in en/pl/ru only.
        let text = "john at gmail dot com";
        assert_eq!(r(text, "he", ALL).text, text);
    }

    #[test]
    fn kinds_filter() {
        let text = "card 4111 1111 1111 1111 phone 601 234 567 mail a@b.com";
        let out = r(text, "en", &[RedactKind::Phone]);
        assert_eq!(
            out.text,
            "card 4111 1111 1111 1111 phone [phone] mail a@b.com"
        );
        assert_eq!(out.counts, counts(&[(RedactKind::Phone, 1)]));
        let out = r(text, "en", &[RedactKind::Card, RedactKind::Email]);
        assert_eq!(out.text, "card [card] phone 601 234 567 mail [email]");
        // Not requested: an IBAN is left alone, not masked as phone pieces.
        let text = "konto PL61 1090 1014 0000 0712 1981 2874";
        assert_eq!(
            r(text, "pl", &[RedactKind::Phone, RedactKind::Card]).text,
            text
        );
    }

    #[test]
    fn empty_kinds_leave_text_alone() {
        let text = "4111 1111 1111 1111 and +48 601 234 567";
        let out = r(text, "en", &[]);
        assert_eq!(out.text, text);
        assert!(out.counts.is_empty());
    }

    #[test]
    fn counts_and_byte_identity() {
        let text = "  Klient:\tkarta 4111 1111 1111 1111; tel. +48 601 234 567 lub 602-345-678;\n\
                    PESEL 44051401359, konto PL61 1090 1014 0000 0712 1981 2874, \
                    mail jan@wp.pl — koniec  ";
        let out = r(text, "pl", ALL);
        assert_eq!(
            out.text,
            "  Klient:\tkarta [card]; tel. [phone] lub [phone];\n\
             PESEL [pesel], konto [iban], mail [email] — koniec  "
        );
        assert_eq!(
            out.counts,
            counts(&[
                (RedactKind::Card, 1),
                (RedactKind::Phone, 2),
                (RedactKind::Iban, 1),
                (RedactKind::Email, 1),
                (RedactKind::Pesel, 1),
            ])
        );
        let text = "nothing personal here, 2026.";
        assert_eq!(r(text, "en", ALL).text, text);
    }

    #[test]
    fn kind_names_and_serde() {
        let kinds: Vec<RedactKind> =
            serde_json::from_str(r#"["card", "phone", "iban", "email", "pesel"]"#).unwrap();
        assert_eq!(kinds, RedactKind::ALL.to_vec());
        for kind in RedactKind::ALL {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
            assert_eq!(kind.mask(), format!("[{}]", kind.as_str()));
        }
    }
}
