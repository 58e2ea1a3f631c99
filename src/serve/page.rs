//! The page of `callsift serve`: plain HTML, CSS and one script, embedded in
//! the binary (no JavaScript build step), with its texts in the language
//! the browser asks for (`Accept-Language`: English and Polish; English
//! when neither is asked for). The script reads the texts from a JSON data
//! block, so the Content-Security-Policy can forbid inline script.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

const HTML: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");
const TEXTS: &str = include_str!("assets/texts.json");

/// The page's languages, the first the default.
pub const LANGUAGES: &[&str] = &["en", "pl"];

type Texts = BTreeMap<String, BTreeMap<String, String>>;

fn texts() -> &'static Texts {
    static TEXTS_PARSED: OnceLock<Texts> = OnceLock::new();
    // The file is part of the binary and tested (`every_language_has_every_text`).
    TEXTS_PARSED.get_or_init(|| serde_json::from_str(TEXTS).unwrap_or_default())
}

/// The language to answer in: the first of `Accept-Language`'s choices (by
/// q-value, then order) that the page has.
pub fn choose_language(accept: Option<&str>) -> &'static str {
    let mut choices: Vec<(f32, usize, String)> = accept
        .unwrap_or("")
        .split(',')
        .enumerate()
        .filter_map(|(i, item)| {
            let mut bits = item.trim().split(';');
            let tag = bits.next()?.trim().to_ascii_lowercase();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
        })
        .collect();
    choices.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    choices
        .iter()
        .find_map(|(_, _, tag)| {
            let primary = tag.split('-').next().unwrap_or("");
            LANGUAGES.iter().copied().find(|l| *l == primary)
        })
        .unwrap_or(LANGUAGES[0])
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page in `lang`: `{{lang}}`, `{{texts}}` (the JSON data block) and
/// every `{{t:key}}` filled in.
pub fn render(lang: &str) -> String {
    let empty = BTreeMap::new();
    let table = texts().get(lang).unwrap_or(&empty);
    // `</` must not end the data block early.
    let json = serde_json::to_string(table)
        .unwrap_or_default()
        .replace("</", "<\\/");
    let mut out = String::with_capacity(HTML.len() + json.len());
    let mut rest = HTML.replace("{{lang}}", lang).replace("{{texts}}", &json);
    while let Some(at) = rest.find("{{t:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let key = &after[..end];
        out.push_str(&escape_html(table.get(key).map_or(key, String::as_str)));
        rest = after[end + 2..].to_string();
    }
    out.push_str(&rest);
    out
}

/// `GET /`.
pub async fn index(headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok());
    let lang = choose_language(accept);
    let mut r = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        render(lang),
    )
        .into_response();
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-language"));
    r
}

/// `GET /app.js`.
pub async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// `GET /app.css`.
pub async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_from_accept_language() {
        assert_eq!(choose_language(None), "en");
        assert_eq!(choose_language(Some("pl-PL,pl;q=0.9,en;q=0.8")), "pl");
        assert_eq!(choose_language(Some("de-DE, en;q=0.5")), "en");
        assert_eq!(choose_language(Some("en;q=0.4, pl;q=0.6")), "pl");
        assert_eq!(choose_language(Some("pl;q=0, en")), "en");
        assert_eq!(choose_language(Some("ru")), "en");
    }

    #[test]
    fn every_language_has_every_text() {
        let t: Texts = serde_json::from_str(TEXTS).expect("texts.json parses");
        let en = &t["en"];
        for lang in LANGUAGES {
            let table = &t[*lang];
            let missing: Vec<_> = en.keys().filter(|k| !table.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
        }
        // Every {{t:key}} of the page and every t('key') of the script has a text.
        for key in HTML
            .split("{{t:")
            .skip(1)
            .filter_map(|s| s.split("}}").next())
        {
            assert!(en.contains_key(key), "page text {key} missing");
        }
        // Calls of `t(` itself, not of `get(`, `split(`, `set(`…
        let pieces: Vec<&str> = SCRIPT.split("t('").collect();
        let keys = pieces.windows(2).filter_map(|w| {
            let before = w[0].chars().last()?;
            let standalone = !(before.is_alphanumeric() || "_.$".contains(before));
            standalone.then(|| w[1].split('\'').next()).flatten()
        });
        for key in keys {
            // `t('severity_' + s)`: the prefix's keys are checked below.
            if key.ends_with('_') {
                continue;
            }
            assert!(en.contains_key(key), "script text {key} missing");
        }
        for severity in ["high", "medium", "low"] {
            assert!(en.contains_key(&format!("severity_{severity}")));
        }
    }

    #[test]
    fn render_fills_and_escapes() {
        let page = render("pl");
        assert!(page.contains("<html lang=\"pl\">"));
        assert!(!page.contains("{{"), "unfilled placeholder");
        assert!(page.contains(&escape_html(&texts()["pl"]["search"])));
        // No inline script: the only <script> elements are the data block and app.js.
        for tag in page.split("<script").skip(1) {
            assert!(
                tag.starts_with(" type=\"application/json\"")
                    || tag.starts_with(" src=\"/app.js\""),
                "inline script: {tag:.60}"
            );
        }
    }
}
