//! Language-aware text normalization shared by `eval`, search and rules;
//! [`analyze`] builds the per-language index forms on it and [`highlight`]
//! finds query words in a text with the same forms.
//!
//! One definition of "the same words": a reference typed by a person and a
//! whisper transcript differ in case, punctuation, quotes, Unicode forms and a
//! few spelling habits that carry no meaning for a call. [`normalize`] removes
//! those differences and [`words`] splits the result into words. Both are
//! pure functions of the text and a language code.
//!
//! # Rules, in the order they apply
//!
//! 1. **No-break and thin spaces** (U+00A0, U+2007, U+2009, U+202F) are read as
//!    commas. Typographers put them between thousands (`12 500`); anywhere else
//!    a comma becomes a space in rule 6 anyway, so nothing else changes.
//! 2. **Unicode NFKC**: compatibility forms fold into plain ones (fullwidth
//!    `Ａ１` → `a1`, `ﬁ` → `fi`, Hebrew presentation forms → letter + point,
//!    decomposed `z` + U+0307 → `ż`).
//! 3. **Lowercase**, full Unicode lowercasing (`ДОБРЫЙ` → `добрый`,
//!    `ŻÓŁW` → `żółw`); no Turkish dotted/dotless-i special case.
//! 4. **Russian ё → е** when the language is Russian (`ru`, `rus`, `ru-RU`,
//!    …): references and whisper both write ё only sometimes, and
//!    inconsistently, so keeping it distinct would count spelling habits as
//!    errors. Other languages keep ё (it is a distinct letter in Belarusian).
//! 5. **Digit grouping**: separators inside a grouped number are dropped, so
//!    `1,000`, `1.000` and `1000` are the same word, and `1,000,000` is
//!    `1000000`. A number is grouped when it is 1–3 ASCII digits followed by
//!    one or more groups of exactly 3 digits, each behind the same separator
//!    (`,` or `.`, or a space of rule 1); a decimal part behind the *other*
//!    separator may follow (`1,000.50` → `1000 50`, `1.000,50` → `1000 50`).
//!    Anything else keeps its separators, which become spaces: `3.5` →
//!    `3 5`, `12,5` → `12 5`, `10:30` → `10 30`. Plain spaces never group
//!    (`800 555 123` is a phone number more often than a count). Numbers stay
//!    as written: no digit ↔ word conversion (`5` ≠ `five`).
//! 6. **Characters**, one at a time:
//!    - Hebrew points (niqqud and cantillation, the nonspacing marks in
//!      U+0591–U+05C7) are **removed**, so pointed and unpointed text match.
//!    - A combining acute (U+0301) after a Cyrillic letter, the Russian
//!      stress mark of dictionaries and textbooks, is **removed**.
//!    - Format characters (general category Cf: right-to-left marks, zero
//!      width joiners, soft hyphens, byte-order marks) are **removed**.
//!    - An apostrophe (`'`, `’`, `‘` or `ʼ`) **inside a word**, between a
//!      letter or digit and a letter or digit, is kept as `'`: `I'll` →
//!      `i'll`, `don’t` → `don't`. Elsewhere (`'quoted'`, `students'`) it is
//!      punctuation. Between two Hebrew letters it stands for geresh
//!      (`צ'יפס` for `צ׳יפס`) and becomes a space like geresh does, so both
//!      spellings match.
//!    - Punctuation and symbols (general categories P\* and S\*: `.,!?;:`,
//!      quotes `«»„”"`, dashes and hyphens `-–—`, maqaf `־`, geresh `׳`,
//!      gershayim `״`, `…`, `%`, `$`, `+`, emoji), separators (Z\*) and
//!      control characters (Cc) **become spaces**. Hyphenated words therefore
//!      split: `e-mail` → `e mail`, `kogo-to` → `kogo to`.
//!    - Everything else (letters of any script, including Polish
//!      `ąćęłńóśźż`, Cyrillic and Hebrew letters with final forms; digits;
//!      other combining marks) is kept.
//! 7. **Whitespace** collapses to single spaces, trimmed at both ends.
//!
//! The language only switches rule 4; Hebrew points and Cyrillic stress
//! marks are recognised by script, so they are removed whatever the language
//! (a Hebrew point never means anything in another language).

pub mod analyze;
pub mod highlight;

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

/// Normalizes `text` for comparison; see the module docs for the rules.
/// `language` is an ISO 639 code such as `ru` (`ru-RU` and `RU` work too);
/// `None` or an unknown code applies only the language-independent rules.
pub fn normalize(text: &str, language: Option<&str>) -> String {
    // Rule 1, before NFKC folds these spaces into U+0020 and they become
    // indistinguishable from word spaces.
    let premapped: String = text
        .chars()
        .map(|c| match c {
            '\u{00A0}' | '\u{2007}' | '\u{2009}' | '\u{202F}' => ',',
            c => c,
        })
        .collect();
    // Rules 2 and 3.
    let mut lowered = premapped.nfkc().collect::<String>().to_lowercase();
    // Rule 4.
    if language.is_some_and(is_russian) {
        lowered = lowered.replace('ё', "е");
    }
    let chars: Vec<char> = lowered.chars().collect();
    // Rule 5.
    let drop = grouping_separators(&chars);
    // Rule 6.
    let mut out = String::with_capacity(lowered.len());
    let mut prev_out: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        if drop[i] {
            continue;
        }
        let category = get_general_category(c);
        let prev_in = i.checked_sub(1).map(|p| chars[p]);
        let removed = is_hebrew_point(c, category)
            || (c == '\u{0301}' && prev_in.is_some_and(is_cyrillic))
            || category == GeneralCategory::Format;
        let mapped = if removed {
            None
        } else if is_apostrophe(c) {
            let next = chars.get(i + 1).copied();
            let inside_word = prev_out.is_some_and(is_word_char) && next.is_some_and(is_word_char);
            let geresh =
                prev_out.is_some_and(is_hebrew_letter) && next.is_some_and(is_hebrew_letter);
            Some(if inside_word && !geresh { '\'' } else { ' ' })
        } else if is_separator_like(category) {
            Some(' ')
        } else {
            Some(c)
        };
        if let Some(m) = mapped {
            out.push(m);
            prev_out = Some(m);
        }
    }
    // Rule 7.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The words of `text` after [`normalize`]: split on the spaces it leaves.
pub fn words(text: &str, language: Option<&str>) -> Vec<String> {
    normalize(text, language)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `language` names Russian: `ru`, `rus`, any case, with or without
/// a region (`ru-RU`, `ru_RU`).
fn is_russian(language: &str) -> bool {
    analyze::Lang::from_code(language) == analyze::Lang::Ru
}

/// Rule 5: marks the separators inside grouped numbers (see the module
/// docs). Returns one flag per char, true for a separator to drop.
fn grouping_separators(chars: &[char]) -> Vec<bool> {
    let mut drop = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A numeric token: digit runs joined by single separators, each
        // separator directly between two digits.
        let mut groups: Vec<usize> = Vec::new();
        let mut seps: Vec<(usize, char)> = Vec::new();
        loop {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(i - start);
            let joins = i + 1 < chars.len()
                && matches!(chars[i], ',' | '.')
                && chars[i + 1].is_ascii_digit();
            if !joins {
                break;
            }
            seps.push((i, chars[i]));
            i += 1;
        }
        let Some(&(_, sep)) = seps.first() else {
            continue;
        };
        if !(1..=3).contains(&groups[0]) {
            continue;
        }
        // The thousands groups: a prefix of separators, all the same, each
        // followed by exactly three digits.
        let grouped = seps
            .iter()
            .zip(&groups[1..])
            .take_while(|&(&(_, s), &len)| s == sep && len == 3)
            .count();
        // What may follow them: nothing, or one decimal part behind the
        // other separator.
        let valid = grouped >= 1
            && (grouped == seps.len() || (grouped + 1 == seps.len() && seps[grouped].1 != sep));
        if valid {
            for &(at, _) in &seps[..grouped] {
                drop[at] = true;
            }
        }
    }
    drop
}

fn is_hebrew_point(c: char, category: GeneralCategory) -> bool {
    ('\u{0591}'..='\u{05C7}').contains(&c) && category == GeneralCategory::NonspacingMark
}

pub(crate) fn is_hebrew_letter(c: char) -> bool {
    ('\u{05D0}'..='\u{05EA}').contains(&c) || ('\u{05EF}'..='\u{05F2}').contains(&c)
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{052F}').contains(&c) && c.is_alphabetic()
}

pub(crate) fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}')
}

/// A letter, digit or combining mark: what may stand on either side of an
/// in-word apostrophe. Marks count so that a pointed letter before it does.
pub(crate) fn is_word_char(c: char) -> bool {
    let abbr = get_general_category(c).abbreviation();
    abbr.starts_with('L') || abbr.starts_with('N') || abbr.starts_with('M')
}

/// Punctuation (P*), symbols (S*), separators (Z*) and controls (Cc): all
/// become spaces.
fn is_separator_like(category: GeneralCategory) -> bool {
    let abbr = category.abbreviation();
    abbr.starts_with('P') || abbr.starts_with('S') || abbr.starts_with('Z') || abbr == "Cc"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> String {
        normalize(text, None)
    }

    #[test]
    fn text_case_and_punctuation() {
        assert_eq!(n("Dzień dobry!"), "dzień dobry");
        assert_eq!(n("  Hello,\tworld...\n"), "hello world");
        assert_eq!(n("ŻÓŁW, ĄĆĘŁŃÓŚŹŻ"), "żółw ąćęłńóśźż");
        assert_eq!(
            n("«Это не телефонный разговор.»"),
            "это не телефонный разговор"
        );
        assert_eq!(n("„Tak” — powiedział…"), "tak powiedział");
        assert_eq!(n("50% of $20 + 3 = ✓ 🙂"), "50 of 20 3");
    }

    #[test]
    fn text_nfkc() {
        assert_eq!(n("ＡＢＣ１２３"), "abc123");
        assert_eq!(n("ﬁle"), "file");
        // Decomposed ż (z + combining dot above) equals the precomposed one.
        assert_eq!(n("z\u{0307}ółw"), n("żółw"));
    }

    #[test]
    fn text_apostrophes() {
        assert_eq!(n("I'll call you."), "i'll call you");
        assert_eq!(n("Don’t"), "don't");
        assert_eq!(n("donʼt"), "don't");
        assert_eq!(
            n("'quoted' students' rock 'n' roll"),
            "quoted students rock n roll"
        );
        assert_eq!(words("I'll", None), vec!["i'll"]);
    }

    #[test]
    fn text_hyphens_split() {
        assert_eq!(n("e-mail"), "e mail");
        assert_eq!(n("кто-то"), "кто то");
        assert_eq!(n("dwa—trzy – cztery"), "dwa trzy cztery");
    }

    #[test]
    fn text_russian_yo() {
        assert_eq!(normalize("Ёлка", Some("ru")), "елка");
        assert_eq!(
            normalize("ёлка", Some("RU-ru")),
            normalize("елка", Some("ru"))
        );
        assert_eq!(normalize("ёлка", None), "ёлка");
        assert_eq!(normalize("ёлка", Some("be")), "ёлка");
        // Stress marks go whatever the language.
        assert_eq!(n("зво\u{0301}нит"), "звонит");
    }

    #[test]
    fn text_hebrew() {
        // "shalom" with niqqud (holam, qamats) and without.
        assert_eq!(n("שָׁלוֹם"), "שלום");
        assert_eq!(n("בְּרֵאשִׁית"), "בראשית");
        // Presentation form shin with shin dot.
        assert_eq!(n("\u{FB2A}לום"), "שלום");
        // Maqaf, geresh, gershayim and sof pasuq become spaces.
        assert_eq!(n("בית־ספר"), "בית ספר");
        assert_eq!(n("צה״ל"), "צה ל");
        assert_eq!(n("צ׳יפס"), "צ יפס");
        assert_eq!(n("צ'יפס"), n("צ׳יפס"));
        assert_eq!(n("תודה׃"), "תודה");
        // Right-to-left marks vanish without splitting the word.
        assert_eq!(n("של\u{200F}ום"), "שלום");
    }

    #[test]
    fn text_numbers() {
        assert_eq!(n("1,000"), "1000");
        assert_eq!(n("1.000"), "1000");
        assert_eq!(n("1,000,000 zł"), "1000000 zł");
        assert_eq!(n("12\u{00A0}500 рублей"), "12500 рублей");
        assert_eq!(n("12\u{202F}500"), "12500");
        assert_eq!(n("1,000.50"), "1000 50");
        assert_eq!(n("1.000,50"), "1000 50");
        assert_eq!(n("3.5"), "3 5");
        assert_eq!(n("12,5"), "12 5");
        assert_eq!(n("1234,567"), "1234 567");
        assert_eq!(n("1,000,00"), "1 000 00");
        assert_eq!(n("1,000.000,5"), "1 000 000 5");
        assert_eq!(n("10:30"), "10 30");
        assert_eq!(n("800 555 123"), "800 555 123");
        assert_eq!(n("In 1999, 2000 people"), "in 1999 2000 people");
        assert_eq!(n("five 5"), "five 5");
    }

    #[test]
    fn text_words_and_empty() {
        assert_eq!(words("", None), Vec::<String>::new());
        assert_eq!(words(" ... — !", None), Vec::<String>::new());
        assert_eq!(
            words("Nie teraz, jestem w pracy.", Some("pl")),
            vec!["nie", "teraz", "jestem", "w", "pracy"]
        );
    }
}
