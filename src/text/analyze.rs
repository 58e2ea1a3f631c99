//! Per-language analyzers: the forms a word takes in the search index, and
//! the same forms for a query word, so indexing and querying agree.
//!
//! Every word of a text is first normalized by [`super::normalize`]
//! (language-independent rules only: NFKC, lowercase, punctuation, Hebrew
//! points, stress marks). From that **exact** form come:
//!
//! - the **folded** form ([`fold`]): diacritics removed (`zadzwonię` →
//!   `zadzwonie`, `ё` → `е`, `ł` → `l`), the same for every language, so a
//!   word typed without diacritics, or in a call of another language, still
//!   matches;
//! - the **stemmed** form ([`stem`]) for Polish, Russian and English, with
//!   the Snowball stemmers of `frostem` (`komórki` → `komórk`, `мобильного`
//!   → `мобильн`, `calling` → `call`), then folded ([`query_form`]), so a
//!   base form typed without diacritics (`komorka`) meets an inflected one
//!   with them; Russian `ё` is read as `е` first;
//! - for Hebrew, the word itself plus the word with up to two of the
//!   one-letter prefixes ו ה ב כ ל מ ש taken off ([`hebrew_variants`]):
//!   `והסוד` is indexed as `והסוד`, `הסוד` and `סוד` at one position, so
//!   a query for `סוד` finds it. Only the index side strips: a query word is
//!   taken as typed, because those letters also begin ordinary words
//!   (stripping `ש` from the query `שלום` would search for `לום`).
//!
//! Offsets are byte ranges into the original text, for highlighting.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// The languages with their own analysis; every other language is `Other`
/// and gets the exact and folded forms only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    En,
    Pl,
    Ru,
    He,
    Other,
}

impl Lang {
    /// Languages with a language-specific form (a field of their own in the index).
    pub const ANALYZED: [Lang; 4] = [Lang::En, Lang::Pl, Lang::Ru, Lang::He];

    /// From an ISO 639 code (`pl`, `pol`, `ru-RU`, `EN`, `iw`); anything else is `Other`.
    pub fn from_code(code: &str) -> Lang {
        match primary_subtag(code).as_str() {
            "en" | "eng" => Lang::En,
            "pl" | "pol" => Lang::Pl,
            "ru" | "rus" => Lang::Ru,
            "he" | "heb" | "iw" => Lang::He,
            _ => Lang::Other,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pl => "pl",
            Lang::Ru => "ru",
            Lang::He => "he",
            Lang::Other => "other",
        }
    }

    fn stemmer(self) -> Option<frostem::Stemmer> {
        match self {
            Lang::En => Some(frostem::Stemmer::new(frostem::Algorithm::English)),
            Lang::Pl => Some(frostem::Stemmer::new(frostem::Algorithm::Polish)),
            Lang::Ru => Some(frostem::Stemmer::new(frostem::Algorithm::Russian)),
            Lang::He | Lang::Other => None,
        }
    }
}

/// The language part of a code, lowercased: `ru-RU`, `RU`, `ru_RU` → `ru`.
pub fn primary_subtag(code: &str) -> String {
    code.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// One word of a text: its exact (normalized) form and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Byte range in the original text.
    pub from: usize,
    pub to: usize,
}

/// The words of `text` with their byte ranges. The forms are exactly
/// `super::words(text, None)`: a text is cut at whitespace (the no-break
/// and thin spaces of digit grouping excepted), each chunk normalized.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    for (start, chunk) in chunks(text) {
        let normalized = super::normalize(chunk, None);
        if normalized.is_empty() {
            continue;
        }
        let forms: Vec<&str> = normalized.split(' ').collect();
        let runs = word_runs(chunk);
        if runs.len() == forms.len() {
            for (form, (from, to)) in forms.iter().zip(runs) {
                out.push(Word {
                    text: (*form).to_string(),
                    from: start + from,
                    to: start + to,
                });
            }
        } else {
            // NFKC or digit grouping changed how many words there are: every
            // word of the chunk gets the chunk's span (trimmed to its words).
            let from = runs.first().map_or(0, |r| r.0);
            let to = runs.last().map_or(chunk.len(), |r| r.1);
            out.extend(forms.iter().map(|form| Word {
                text: (*form).to_string(),
                from: start + from,
                to: start + to,
            }));
        }
    }
    out
}

/// Whitespace-separated chunks with their byte offsets. The spaces that
/// [`super::normalize`] reads as digit-group separators stay inside.
fn chunks(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let is_break = |c: char| {
        c.is_whitespace() && !matches!(c, '\u{00A0}' | '\u{2007}' | '\u{2009}' | '\u{202F}')
    };
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while rest.peek().is_some_and(|&(_, c)| is_break(c)) {
            rest.next();
        }
        let &(start, _) = rest.peek()?;
        let mut end = start;
        while let Some(&(i, c)) = rest.peek() {
            if is_break(c) {
                break;
            }
            end = i + c.len_utf8();
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

/// Byte ranges of the runs of word characters (letters, digits, marks, an
/// apostrophe between two of them) inside a chunk.
fn word_runs(chunk: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = chunk.char_indices().collect();
    let is_word = |i: usize| {
        let c = chars[i].1;
        if super::is_apostrophe(c) {
            return i > 0
                && i + 1 < chars.len()
                && super::is_word_char(chars[i - 1].1)
                && super::is_word_char(chars[i + 1].1)
                && !(super::is_hebrew_letter(chars[i - 1].1)
                    && super::is_hebrew_letter(chars[i + 1].1));
        }
        // Format characters (RTL marks, joiners) vanish inside a word.
        super::is_word_char(c)
            || unicode_general_category::get_general_category(c)
                == unicode_general_category::GeneralCategory::Format
    };
    let mut runs = Vec::new();
    let mut open: Option<usize> = None;
    for i in 0..chars.len() {
        let end = chars[i].0 + chars[i].1.len_utf8();
        match (is_word(i), open) {
            (true, None) => open = Some(chars[i].0),
            (false, Some(s)) => {
                runs.push((s, chars[i].0));
                open = None;
            }
            _ => {}
        }
        if i + 1 == chars.len()
            && let Some(s) = open.take()
        {
            runs.push((s, end));
        }
    }
    runs
}

/// The folded form: diacritics and other marks removed, a few letters
/// without a decomposition spelled plainly (`ł` → `l`, `ß` → `ss`).
/// Language-independent; `ё` becomes `е` and `й` becomes `и`.
pub fn fold(word: &str) -> String {
    if word.is_ascii() {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len());
    for c in word.nfd() {
        if unicode_general_category::get_general_category(c)
            == unicode_general_category::GeneralCategory::NonspacingMark
        {
            continue;
        }
        match c {
            'ł' => out.push('l'),
            'đ' => out.push('d'),
            'ø' => out.push('o'),
            'ı' => out.push('i'),
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            c => out.push(c),
        }
    }
    out
}

/// The stemmed form of an exact word in `lang`; the word itself for
/// languages without a stemmer.
pub fn stem(lang: Lang, word: &str) -> String {
    let word: Cow<str> = if lang == Lang::Ru && word.contains('ё') {
        Cow::Owned(word.replace('ё', "е"))
    } else {
        Cow::Borrowed(word)
    };
    match lang.stemmer() {
        Some(stemmer) => stemmer.stem(&word).into_owned(),
        None => word.into_owned(),
    }
}

/// The one-letter prefixes of Hebrew (and, the, in, as, to, from, that).
const HEBREW_PREFIXES: [char; 7] = ['ו', 'ה', 'ב', 'כ', 'ל', 'מ', 'ש'];
/// A prefix is only taken off when this many letters remain.
const HEBREW_MIN_STEM: usize = 2;

/// The word with one and with two leading prefix letters taken off, where
/// the rest is at least two letters; empty for non-Hebrew words.
pub fn hebrew_variants(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    if !chars.iter().all(|&c| super::is_hebrew_letter(c)) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for strip in 1..=2 {
        if chars.len() < strip + HEBREW_MIN_STEM
            || !chars[..strip].iter().all(|c| HEBREW_PREFIXES.contains(c))
        {
            break;
        }
        out.push(chars[strip..].iter().collect());
    }
    out
}

/// One token of an index field: a form at a word position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub position: usize,
    pub from: usize,
    pub to: usize,
}

/// A text analyzed for the index: one token list per field.
#[derive(Debug, Clone, Default)]
pub struct Analyzed {
    pub exact: Vec<Token>,
    pub folded: Vec<Token>,
    /// The language-specific field (stems; Hebrew words with their
    /// prefix-stripped variants at the same position); `None` for `Other`.
    pub lang: Option<(Lang, Vec<Token>)>,
    /// How many word positions the text has.
    pub positions: usize,
}

/// Analyzes `text` of a segment in `lang` for every field.
pub fn analyze(text: &str, lang: Lang) -> Analyzed {
    let words = words(text);
    let token = |text: String, position: usize, w: &Word| Token {
        text,
        position,
        from: w.from,
        to: w.to,
    };
    let mut analyzed = Analyzed {
        positions: words.len(),
        ..Analyzed::default()
    };
    let stemmer = lang.stemmer();
    let mut lang_tokens = Vec::new();
    for (position, w) in words.iter().enumerate() {
        analyzed.folded.push(token(fold(&w.text), position, w));
        match lang {
            Lang::En | Lang::Pl | Lang::Ru => {
                let source = if lang == Lang::Ru {
                    Cow::Owned(w.text.replace('ё', "е"))
                } else {
                    Cow::Borrowed(w.text.as_str())
                };
                let stemmed = fold(&stemmer.as_ref().expect("stemmer").stem(&source));
                lang_tokens.push(token(stemmed, position, w));
            }
            Lang::He => {
                lang_tokens.push(token(w.text.clone(), position, w));
                for v in hebrew_variants(&w.text) {
                    lang_tokens.push(token(v, position, w));
                }
            }
            Lang::Other => {}
        }
        analyzed.exact.push(token(w.text.clone(), position, w));
    }
    if lang != Lang::Other {
        analyzed.lang = Some((lang, lang_tokens));
    }
    analyzed
}

/// The form a word takes in the field of `lang`: the folded stem for
/// Polish, Russian and English (stemmed with diacritics, then folded, so
/// `komorka` typed without them meets `komórki`), the word itself for
/// Hebrew (no prefix stripping on the query side: see the module docs).
pub fn query_form(lang: Lang, exact_word: &str) -> String {
    match lang {
        Lang::He | Lang::Other => exact_word.to_string(),
        _ => fold(&stem(lang, exact_word)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(text: &str) -> Vec<String> {
        words(text).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn words_equal_normalize_words() {
        for text in [
            "Dobrze, zadzwonię z prywatnej komórki po szesnastej.",
            "«Это не телефонный разговор.» Ёлка — 12\u{00A0}500 рублей",
            "I'll call you from my personal mobile, e-mail me at 10:30!",
            "והסוד המסחרי שָׁלוֹם צ'יפס בית־ספר",
            "  ＡＢＣ ﬁle 1,000.50  ",
        ] {
            assert_eq!(forms(text), super::super::words(text, None), "{text}");
        }
    }

    #[test]
    fn offsets_point_at_the_words() {
        let text = "«Это не телефонный разговор.» e-mail";
        let ws = words(text);
        let spans: Vec<&str> = ws.iter().map(|w| &text[w.from..w.to]).collect();
        assert_eq!(spans, ["Это", "не", "телефонный", "разговор", "e", "mail"]);
    }

    #[test]
    fn folding() {
        assert_eq!(fold("zadzwonię"), "zadzwonie");
        assert_eq!(fold("żółć"), "zolc");
        assert_eq!(fold("łódź"), "lodz");
        assert_eq!(fold("ёлка"), "елка");
        assert_eq!(fold("straße"), "strasse");
        assert_eq!(fold("סוד"), "סוד");
    }

    #[test]
    fn stems_join_inflections() {
        assert_eq!(stem(Lang::Ru, "мобильный"), stem(Lang::Ru, "мобильного"));
        assert_eq!(stem(Lang::Ru, "телефонный"), stem(Lang::Ru, "телефонного"));
        assert_eq!(stem(Lang::Pl, "komórka"), stem(Lang::Pl, "komórki"));
        assert_eq!(
            query_form(Lang::Pl, "komórkę"),
            query_form(Lang::Pl, "komorka")
        );
        assert_eq!(stem(Lang::Pl, "prywatnej"), stem(Lang::Pl, "prywatna"));
        assert_eq!(stem(Lang::En, "calling"), stem(Lang::En, "call"));
        assert_eq!(stem(Lang::Ru, "ёлка"), stem(Lang::Ru, "елка"));
        assert_ne!(stem(Lang::En, "mobile"), stem(Lang::En, "personal"));
    }

    #[test]
    fn hebrew_prefixes() {
        assert_eq!(hebrew_variants("והסוד"), ["הסוד", "סוד"]);
        assert_eq!(hebrew_variants("בבית"), ["בית", "ית"]);
        assert_eq!(hebrew_variants("סוד"), Vec::<String>::new());
        assert_eq!(hebrew_variants("של"), Vec::<String>::new());
        assert_eq!(hebrew_variants("mobile"), Vec::<String>::new());
        let a = analyze("והסוד המסחרי", Lang::He);
        let (lang, toks) = a.lang.unwrap();
        assert_eq!(lang, Lang::He);
        let at0: Vec<&str> = toks
            .iter()
            .filter(|t| t.position == 0)
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(at0, ["והסוד", "הסוד", "סוד"]);
        assert!(toks.iter().any(|t| t.position == 1 && t.text == "מסחרי"));
    }

    #[test]
    fn lang_codes() {
        assert_eq!(Lang::from_code("ru-RU"), Lang::Ru);
        assert_eq!(Lang::from_code("PL"), Lang::Pl);
        assert_eq!(Lang::from_code("iw"), Lang::He);
        assert_eq!(Lang::from_code("de"), Lang::Other);
        assert_eq!(Lang::from_code(""), Lang::Other);
    }
}
