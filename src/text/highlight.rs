//! Finds the words of a text that a query's words match, with the same
//! forms the index uses ([`super::analyze`]), so a snippet highlights what
//! the search found: an inflected form, a word typed without diacritics, a
//! Hebrew word behind its prefixes, a misheard word within its edits.

use super::analyze::{self, Lang};

/// One query word, as the query layer built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A word (exact normalized form): matches the text's word when their
    /// folded forms are equal, when their forms in the text's language are
    /// equal (stems; a Hebrew word behind its prefixes).
    Word(String),
    /// Only the exact form (`exact:` queries).
    Exact(String),
    /// A folded prefix (`mobil*`).
    Prefix(String),
    /// Folded form within `distance` edits, a swap of two letters counting as one.
    Fuzzy { word: String, distance: u8 },
}

/// Byte ranges of the matched words of `text`, in order, not overlapping.
pub fn find(text: &str, lang: Lang, terms: &[Term]) -> Vec<(usize, usize)> {
    if terms.is_empty() {
        return Vec::new();
    }
    let prepared: Vec<Prepared> = terms.iter().map(|t| Prepared::new(t, lang)).collect();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for w in analyze::words(text) {
        let folded = analyze::fold(&w.text);
        let lang_forms = lang_forms(lang, &w.text);
        if prepared
            .iter()
            .any(|p| p.matches(&w.text, &folded, &lang_forms))
            && out.last().is_none_or(|&(_, to)| to <= w.from)
        {
            out.push((w.from, w.to));
        }
    }
    out
}

/// The byte range of the first run of consecutive words of `text` that
/// match `terms` one by one, in order: a phrase whose words may each be
/// fuzzy (rules' `fuzzy = N`; the index has no fuzzy phrase query, so a
/// rule finds the words with fuzzy word queries and checks their order here).
pub fn find_phrase(text: &str, lang: Lang, terms: &[Term]) -> Option<(usize, usize)> {
    if terms.is_empty() {
        return None;
    }
    let prepared: Vec<Prepared> = terms.iter().map(|t| Prepared::new(t, lang)).collect();
    let words: Vec<(analyze::Word, String, Vec<String>)> = analyze::words(text)
        .into_iter()
        .map(|w| {
            let folded = analyze::fold(&w.text);
            let forms = lang_forms(lang, &w.text);
            (w, folded, forms)
        })
        .collect();
    (0..words.len().saturating_sub(prepared.len() - 1)).find_map(|start| {
        let run = &words[start..start + prepared.len()];
        run.iter()
            .zip(&prepared)
            .all(|((w, folded, forms), p)| p.matches(&w.text, folded, forms))
            .then(|| (run[0].0.from, run[run.len() - 1].0.to))
    })
}

/// The text word's forms in the language field: its stem, or a Hebrew
/// word and its prefix-stripped variants.
fn lang_forms(lang: Lang, exact: &str) -> Vec<String> {
    match lang {
        Lang::En | Lang::Pl | Lang::Ru => vec![analyze::query_form(lang, exact)],
        Lang::He => {
            let mut v = vec![exact.to_string()];
            v.extend(analyze::hebrew_variants(exact));
            v
        }
        Lang::Other => Vec::new(),
    }
}

/// A term with its forms computed once.
struct Prepared<'t> {
    term: &'t Term,
    folded: String,
    lang_form: String,
}

impl<'t> Prepared<'t> {
    fn new(term: &'t Term, lang: Lang) -> Self {
        let word = match term {
            Term::Word(w) | Term::Exact(w) | Term::Prefix(w) => w,
            Term::Fuzzy { word, .. } => word,
        };
        Prepared {
            term,
            folded: analyze::fold(word),
            lang_form: analyze::query_form(lang, word),
        }
    }

    fn matches(&self, exact: &str, folded: &str, lang_forms: &[String]) -> bool {
        match self.term {
            Term::Word(_) => folded == self.folded || lang_forms.contains(&self.lang_form),
            Term::Exact(w) => exact == w,
            Term::Prefix(_) => folded.starts_with(&self.folded),
            Term::Fuzzy { distance, .. } => {
                within_edits(folded, &self.folded, *distance)
                    || lang_forms
                        .iter()
                        .any(|f| within_edits(f, &self.lang_form, *distance))
            }
        }
    }
}

/// Whether `a` and `b` are at most `max` edits apart (insert, delete,
/// substitute, or swap two adjacent letters: optimal string alignment).
pub fn within_edits(a: &str, b: &str, max: u8) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let max = usize::from(max);
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let width = b.len() + 1;
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return false;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(text: &str, lang: Lang, terms: &[Term]) -> Vec<String> {
        find(text, lang, terms)
            .into_iter()
            .map(|(a, b)| text[a..b].to_string())
            .collect()
    }

    #[test]
    fn highlights_every_kind_of_match() {
        let w = |s: &str| Term::Word(s.into());
        assert_eq!(
            marked(
                "Zadzwonię z prywatnej komórki.",
                Lang::Pl,
                &[w("zadzwonie"), w("komórka")]
            ),
            ["Zadzwonię", "komórki"]
        );
        assert_eq!(
            marked(
                "Перезвоню с личного мобильного.",
                Lang::Ru,
                &[w("мобильный")]
            ),
            ["мобильного"]
        );
        assert_eq!(marked("זה והסוד שלנו", Lang::He, &[w("סוד")]), ["והסוד"]);
        assert_eq!(
            marked(
                "my personal mobile",
                Lang::En,
                &[Term::Prefix("mobil".into())]
            ),
            ["mobile"]
        );
        assert_eq!(
            marked(
                "my presonal mobile",
                Lang::En,
                &[Term::Fuzzy {
                    word: "personal".into(),
                    distance: 1
                }]
            ),
            ["presonal"]
        );
        assert_eq!(
            marked("Calling you", Lang::En, &[Term::Exact("call".into())]),
            Vec::<String>::new()
        );
        assert_eq!(marked("Calling you", Lang::En, &[w("call")]), ["Calling"]);
    }

    #[test]
    fn edit_distance() {
        assert!(within_edits("personal", "presonal", 1));
        assert!(within_edits("mobile", "mobil", 1));
        assert!(within_edits("mobile", "nobile", 1));
        assert!(!within_edits("mobile", "noble", 1));
        assert!(within_edits("mobile", "noble", 2));
        assert!(within_edits("", "a", 1));
        assert!(!within_edits("abc", "xyz", 2));
    }
}
