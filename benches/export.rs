//! `cargo bench --bench export`: `callsift export --format ndjson` on
//! synthetic transcripts, the documents Quickwit ingests
//! (`deploy/quickwit/README.md` quotes the figures).
//!
//! Writes `CALLSIFT_BENCH_CALLS` calls (2,000 by default) of
//! `CALLSIFT_BENCH_SEGMENTS` segments each (40) in Polish, Russian and
//! English (real words, roughly Zipf-distributed, 1–15 s turns, two
//! speakers, PBX metadata, a rule hit now and then) to `OUT/transcripts/`
//! with the transcript sink, then exports them three times into a counting
//! sink: documents per second (best and median run, transcript reading and
//! the per-language analysis of `text_stems` included) and bytes per
//! segment (NDJSON bytes / segments), next to the transcript files' own
//! bytes per segment. Then the same without `text_stems`' share, measured
//! from the lines, so the cost of carrying our stems is visible. Work folder
//! `target/bench-export/`, removed at the end unless `CALLSIFT_BENCH_KEEP=1`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use callsift::export::{self, ExportOptions};
use callsift::model::{
    CallAnalysis, HitKind, RuleHit, Segment, Severity, TRANSCRIPT_SCHEMA, Transcript,
};
use callsift::sink::{Sink, TranscriptJsonSink};

const PL: &str = "
nie się to w i na jest że z do tak co ja pan pani mi jak ale o czy już mnie tylko może
proszę dobrze bardzo dziękuję jeszcze teraz wszystko tutaj tam po od przez dla za być
będzie było był była są mam ma mamy masz chcę chciałbym chciałabym można trzeba muszę
dzień dobry dzisiaj jutro wczoraj rano wieczorem godzina godziny minut chwileczkę
telefon telefonu komórka komórki komórkę prywatnej prywatny numer numeru numerem konto
konta kontem karta karty kartą rachunek rachunku faktura faktury fakturę płatność
płatności opłata opłaty umowa umowy umowę zamówienie zamówienia przesyłka przesyłki
adres adresu reklamacja reklamacji zwrot zwrotu pieniądze złotych oferta oferty
promocja rabat zniżka abonament pakiet internet sieć zasięg sprawdzę sprawdzić
zadzwonię zadzwonić oddzwonię przełączę kierownik konsultant klient infolinia
";

const RU: &str = "
не я что в и на это с он вы да нет так как мне по но вот у меня все было только ещё
хорошо спасибо пожалуйста здравствуйте минуточку сейчас сегодня завтра вчера утром
телефон телефона номер номера номером счёт счета карта карты картой платёж платежа
оплата оплаты договор договора заказ заказа доставка доставки адрес адреса возврат
деньги рублей предложение скидка тариф тарифа интернет сеть связь проверю проверить
позвоню позвонить перезвоню соединю оператор менеджер клиент мобильного личного
";

const EN: &str = "
the i you to a and it that is of in we for your on this be have my me with do not
just so what yes no okay are was will would at all if there they get about call like
number account here one know please thank thanks sure right well now could help see
payment card bank phone mobile personal called calling customer service support order
delivery address email details problem issue question minute moment name code transfer
refund charge fee bill invoice balance credit contract plan upgrade cancel appointment
confirm sorry understand manager supervisor department hold waiting speak tell ask
";

const LANGS: [&str; 3] = ["pl", "ru", "en"];
const WORDS_PER_S: f64 = 2.5;
/// 2026-05-01T00:00:00Z.
const EPOCH_S: i64 = 1_777_593_600;
const DAYS: i64 = 30;

/// splitmix64: the same calls every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// Roughly Zipf: small ranks much more often.
    fn zipf(&mut self, n: usize) -> usize {
        ((n as f64).powf(self.f64()) as usize)
            .saturating_sub(1)
            .min(n - 1)
    }
}

fn vocabulary(lang: &str) -> Vec<&'static str> {
    match lang {
        "pl" => PL,
        "ru" => RU,
        _ => EN,
    }
    .split_whitespace()
    .collect()
}

fn sentence(rng: &mut Rng, words: &[&str], n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        let w = words[rng.zipf(words.len())];
        if i == 0 {
            let mut cs = w.chars();
            if let Some(c) = cs.next() {
                text.extend(c.to_uppercase());
                text.push_str(cs.as_str());
            }
        } else {
            text.push(' ');
            text.push_str(w);
        }
    }
    text.push(if rng.f64() < 0.2 { '?' } else { '.' });
    text
}

fn call(rng: &mut Rng, n: usize, segments: usize) -> Transcript {
    let call_id = format!("{:016x}{:016x}", rng.next(), n);
    let lang = LANGS[rng.range(0, 2) as usize];
    let words = vocabulary(lang);
    let mut t_ms = rng.range(300, 2_000);
    let mut channel = 0;
    let segs: Vec<Segment> = (0..segments)
        .map(|_| {
            let dur = 1_000 + (14_000.0 * rng.f64().powf(1.5)) as u64;
            let n_words = ((dur as f64 / 1000.0 * WORDS_PER_S).round() as usize).max(1);
            let s = Segment {
                start_ms: t_ms,
                end_ms: t_ms + dur,
                channel,
                speaker: if channel == 0 { "agent" } else { "customer" }.into(),
                language: lang.into(),
                text: sentence(rng, &words, n_words),
                avg_logprob: -0.1 - 0.4 * rng.f64() as f32,
                no_speech_prob: 0.05 * rng.f64() as f32,
            };
            t_ms += dur + rng.range(200, 1_500);
            if rng.f64() > 0.12 {
                channel = 1 - channel;
            }
            s
        })
        .collect();
    let agent = format!("1{:02}", rng.range(0, 39));
    let analysis = (rng.f64() < 0.1).then(|| CallAnalysis {
        pipeline: "security".into(),
        hits: vec![RuleHit {
            rule: "private-phone".into(),
            kind: HitKind::Watchlist,
            severity: Severity::High,
            speaker: "agent".into(),
            segment: Some(0),
            start_ms: 0,
            end_ms: 1_000,
            matched: "prywatnej komórki".into(),
            phrase: "prywatna komórka".into(),
        }],
        ..CallAnalysis::default()
    });
    Transcript {
        schema: TRANSCRIPT_SCHEMA.into(),
        source_path: format!("/recordings/2026/05/{agent}/{call_id}.wav"),
        content_hash: format!("blake3:{call_id}"),
        call_start: Some(
            jiff::Timestamp::from_second(EPOCH_S + rng.range(0, DAYS as u64 * 86_400) as i64)
                .expect("timestamp"),
        ),
        duration_ms: t_ms,
        channels: 2,
        sample_rate_hz: 8000,
        codec: "pcm_mulaw".into(),
        metadata: BTreeMap::from([
            ("agent".to_string(), agent),
            (
                "customer".to_string(),
                format!("+4860{:07}", rng.range(0, 9_999_999)),
            ),
            (
                "direction".to_string(),
                if rng.f64() < 0.6 {
                    "inbound"
                } else {
                    "outbound"
                }
                .to_string(),
            ),
            (
                "queue".to_string(),
                ["sales", "support", "billing"][rng.range(0, 2) as usize].to_string(),
            ),
            ("unique_id".to_string(), format!("{}.{n}", EPOCH_S)),
        ]),
        metadata_source: Default::default(),
        model: "ggml-large-v3-turbo.bin".into(),
        languages: BTreeMap::from([
            ("agent".to_string(), lang.to_string()),
            ("customer".to_string(), lang.to_string()),
        ]),
        segments: segs,
        speech: Vec::new(),
        warnings: Vec::new(),
        pipeline: "default".into(),
        processed_at: None,
        processing_ms: None,
        analysis,
        call_id,
    }
}

/// A `Write` that keeps nothing: the export's own cost, no disk or pipe.
/// It keeps the share of `text_stems` in the lines it is given.
#[derive(Default)]
struct Counting {
    bytes: u64,
    stems_bytes: u64,
    pending: Vec<u8>,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            if let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice(&line)
                && let Some(stems) = doc.get("text_stems")
            {
                // `,"text_stems":"…"` as serialised.
                self.stems_bytes += 14 + stems.to_string().len() as u64;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let calls = env_usize("CALLSIFT_BENCH_CALLS", 2_000);
    let per_call = env_usize("CALLSIFT_BENCH_SEGMENTS", 40);
    let work = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-export");
    let _ = std::fs::remove_dir_all(&work);
    let out = work.join("out");
    let t = Instant::now();
    let mut rng = Rng(21);
    let mut sink = TranscriptJsonSink::new(&out).expect("transcript sink");
    for n in 0..calls {
        sink.accept(&call(&mut rng, n, per_call))
            .expect("write transcript");
    }
    let segments = calls * per_call;
    let transcript_bytes = dir_bytes(&out.join("transcripts"));
    println!(
        "export bench: {calls} calls x {per_call} segments = {segments} segments (pl/ru/en), \
         transcripts written in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // One pass with the line parser on, for the size figures.
    let ids = export::call_ids(&out).expect("call ids");
    let mut counting = Counting::default();
    let report = export::export_ndjson(&out, &ids, &ExportOptions::default(), &mut counting)
        .expect("export");
    assert_eq!(report.documents, segments);
    assert_eq!(report.bytes, counting.bytes);

    // Timed passes into a sink that only counts.
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            let mut w = std::io::BufWriter::with_capacity(1 << 16, std::io::sink());
            let t = Instant::now();
            let ids = export::call_ids(&out).expect("call ids");
            let r = export::export_ndjson(&out, &ids, &ExportOptions::default(), &mut w)
                .expect("export");
            assert_eq!(r.documents, segments);
            t.elapsed()
        })
        .collect();
    times.sort();
    let rate = |d: Duration| segments as f64 / d.as_secs_f64();
    let per_seg = |b: u64| b as f64 / segments as f64;
    println!(
        "export (3 runs): best {:.2} s = {:.0} docs/s, median {:.2} s = {:.0} docs/s",
        times[0].as_secs_f64(),
        rate(times[0]),
        times[1].as_secs_f64(),
        rate(times[1])
    );
    println!(
        "ndjson: {} bytes = {:.0} bytes/segment ({:.0} of them text_stems); \
         transcript files: {:.0} bytes/segment",
        report.bytes,
        per_seg(report.bytes),
        per_seg(counting.stems_bytes),
        per_seg(transcript_bytes)
    );
    if std::env::var("CALLSIFT_BENCH_KEEP").as_deref() != Ok("1") {
        let _ = std::fs::remove_dir_all(&work);
    }
}
