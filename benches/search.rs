//! `cargo bench --bench search`: the search index `OUT/index/` on synthetic
//! call transcripts, against the plain scan a user would do without it.
//!
//! For each size (segments; `CALLSIFT_BENCH_SIZES=100000,1000000` by
//! default) it generates calls in Polish, Russian, Hebrew and English
//! (real words of each, Zipf-distributed, a few planted phrases), writes
//! them to `OUT/transcripts/` with the transcript sink, indexes them
//! (timed: segments per second), measures query latency through one open
//! [`SearchIndex`] (words, phrases, fuzzy, prefix, filtered: p50 and p99),
//! the grep/jq-style scan over the transcript files, and, at 10^5, the whole
//! `callsift search` process. Prints one table per size with the targets
//! and PASS/FAIL. Work folder: `target/bench-search/`, removed at the end
//! unless `CALLSIFT_BENCH_KEEP=1`.
//!
//! Then the rules stage: `CALLSIFT_BENCH_RULE_CALLS` (default 2,000)
//! generated calls judged by the shipped `pipelines/security.toml`,
//! `sales-quality.toml` and `compliance.toml` together (each call indexed in
//! memory and every phrase searched): milliseconds per call, and the planted
//! watchlist phrases found, which is what a run adds per call and what
//! `callsift rescore` costs per stored call. `CALLSIFT_BENCH_SIZES=` (empty)
//! runs only this part.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use callsift::index::schema::Fields;
use callsift::index::{IndexWriterHandle, SearchIndex, WriterOptions};
use callsift::model::{
    SearchFilters, SearchRequest, SearchSort, Segment, TRANSCRIPT_SCHEMA, Transcript,
};
use callsift::sink::{Sink, TranscriptJsonSink};

// ---------------------------------------------------------------------------
// Vocabularies: real words, roughly most frequent first (the order is the
// Zipf rank), inflected forms included.

const EN_WORDS: &str = "
the i you to a and it that is of in we for your on this be have my me with do not
just so what yes no okay are was will would at all if there they get about call like
from number account here one know don't it's i'm that's please thank thanks sure right
well now could help see let need want going go time check back then out up more some
any which when how can our us day today tomorrow morning afternoon evening week month
payment card bank phone mobile personal called calling calls caller customer service
support order orders ordered delivery delivered address email details information
problem problems issue issues question questions minute minutes hour hours moment name
first last date code password security verify verified verification transfer
transferred refund refunded charge charged charges fee fees bill billing invoice balance
credit debit contract plan upgrade cancel cancelled cancellation appointment schedule
scheduled confirm confirmed confirmation sorry apologize understand understood explain
explained manager supervisor department team colleague office branch line hold waiting
wait waited speak speaking spoke talk talking talked said say says tell told ask asked
asking send sent sending receive received message messages text texts letter post
online website app login access blocked unlock reset change changed changing update
updated new old open opened close closed pay paid paying price cost costs offer offers
discount free extra money pounds dollars euros amount total monthly yearly annual
renewal renew insurance policy claim claims home car travel internet broadband router
connection signal network coverage data roaming international local landline handset
device screen broken repair replacement replace return returned warranty store shop
engineer technician visit visited arrange arranged number's secret secrets trade
private privately conversation conversations really actually probably maybe already
still again also only very much many something someone anything nothing everything
where why who whose because but or than too after before during since until next
previous latest second third again problem's works working worked work fix fixed
fixing try tried trying look looked looking find found finding give gave given take
took taken make made making keep kept think thought believe mean meant remember
forgot forget happen happened happens sign signed signature form forms reference
ticket tickets case cases complaint complaints escalate escalated feedback survey
rate rates interest loan loans mortgage savings deposit withdrawal cash statement
statements transaction transactions fraud suspicious lost stolen
";

const PL_WORDS: &str = "
nie się to w i na jest że z do tak co ja pan pani mi jak ale o czy już mnie tylko może
proszę dobrze bardzo dziękuję jeszcze teraz wszystko tutaj tam po od przez dla za być
będzie było był była są mam ma mamy masz chcę chciałbym chciałabym można trzeba muszę
musi dzień dobry dzisiaj jutro wczoraj rano wieczorem godzina godziny godzinę minut
minutę chwila chwilę chwileczkę telefon telefonu telefonem telefonie komórka komórki
komórkę komórką komórce prywatnej prywatny prywatna prywatnego numer numeru numerem
konto konta koncie kontem karta karty kartę kartą rachunek rachunku rachunkiem faktura
faktury fakturę fakturze płatność płatności opłata opłaty opłatę umowa umowy umowę
umowie zamówienie zamówienia zamówieniu przesyłka przesyłki przesyłkę dostawa dostawy
adres adresu adresem maila hasło hasła kod kodu pieniądze pieniędzy złotych złote złoty
kwota kwoty kwotę przelew przelewu przelewem bank banku bankiem klient klienta klientem
klientów pracownik pracownika konsultant konsultanta kierownik kierownika dział działu
firma firmy firmie firmę sprawa sprawy sprawę sprawie problem problemu problemem
pytanie pytania pytaniem informacja informacji informację zadzwonię zadzwonić
zadzwonił zadzwoniła dzwonię dzwonić dzwoniłem dzwoniłam oddzwonię oddzwonić rozmowa
rozmowy rozmowę rozmowie powiedzieć powiedział powiedziała mówić mówię mówi wiem
wiedzieć rozumiem rozumieć sprawdzę sprawdzić sprawdziłem potwierdzić potwierdzam
potwierdzenie wysłać wysłałem wysyłam otrzymać otrzymałem dostałem dostałam zapłacić
zapłaciłem płacę zmienić zmiana zmiany anulować reklamacja reklamacji reklamację zwrot
zwrotu termin terminu terminie tydzień tygodnia miesiąc miesiąca miesięcznie rok roku
tajemnica tajemnicy handlowa handlowej poufne poufnych dane danych osobowe osobowych
imię nazwisko nazwiska data urodzenia pesel dowód dowodu oczywiście właśnie naprawdę
niestety okej dobra nic coś ktoś gdzie kiedy dlaczego ile który która które jaki jaka
jakie mój moja moje mojego twój pana panu panią państwa nas nam wam ich jego jej go
im tego tej ten ta te tym bo więc albo lub jeśli żeby ponieważ potem wtedy zawsze nigdy
często czasem trochę dużo mało więcej mniej pierwszy drugi ostatni nowy nowa nowe stary
internet internetu sieć sieci zasięg zasięgu router routera abonament abonamentu
pakiet pakietu oferta oferty ofertę promocja promocji rabat rabatu cena ceny cenę koszt
kosztu kosztów ubezpieczenie ubezpieczenia polisa polisy szkoda szkody samochód
samochodu mieszkanie mieszkania dom domu biuro biura oddział oddziału placówka
wizyta wizyty wizytę spotkanie spotkania technik technika serwis serwisu naprawa
naprawy naprawę gwarancja gwarancji zablokowane zablokowana zablokować odblokować
aplikacja aplikacji aplikację strona strony stronie logowanie zalogować wiadomość
wiadomości esemes kredyt kredytu kredytem pożyczka pożyczki rata raty ratę odsetki
saldo salda wyciąg wyciągu transakcja transakcji oszustwo kradzież zgubiłem zgubiłam
czekam czekać poczekać proszę pana proszę pani
";

const RU_WORDS: &str = "
не я вы что это да в и на с как у меня вас мне так но по все вот ну нет уже можно
пожалуйста спасибо хорошо здравствуйте алло сейчас здесь там когда где почему сколько
какой какая какие который есть был была было будет будут могу можете хочу хотел
хотела нужно надо должен должны телефон телефона телефону телефоном телефонный
телефонная телефонного телефонные мобильный мобильного мобильному мобильным мобильная
мобильной номер номера номеру номером карта карты карту картой картам счёт счета счету
счетом банк банка банку банком деньги денег деньгами рублей рубля рубль сумма суммы
сумму перевод перевода переводом платёж платежа платежи оплата оплаты оплату кредит
кредита кредиту кредитом договор договора договору договоре заявка заявку заявки заказ
заказа заказу доставка доставки доставку адрес адреса адресу почта почту пароль пароля
код кода коду смс сообщение сообщения служба службы безопасности безопасность оператор
оператора оператору клиент клиента клиенту менеджер менеджера специалист специалиста
отдел отдела вопрос вопроса вопросы вопросом проблема проблемы проблему разговор
разговора разговоре разговоры разговаривать говорить говорю говорите сказал сказала
скажите звонок звонка звонил звонила звоню звонить позвоню позвонить перезвоню
перезвонить перезвоните личный личного личному личным личная данные данных паспорт
паспорта паспортные фамилия имя отчество дата рождения день дня сегодня завтра вчера
утром вечером неделя недели неделю месяц месяца год года минуту минут минуты час часа
часов секунду подождите ждать жду проверить проверю проверка подтвердить подтверждаю
подтверждение отправить отправлю отправили получить получил получила получили
оплатить оплатил заблокировать заблокирована заблокирован разблокировать отменить
отмена изменить изменения вернуть возврат претензия жалоба тариф тарифа тарифу услуга
услуги услугу интернет связь связи сеть сети роутер приложение приложения приложении
сайт сайте личный кабинет кабинете вход логин коммерческая коммерческой тайна тайну
секрет секретно конфиденциально информация информации информацию ещё тоже только очень
много мало больше меньше всегда никогда иногда потом тогда если чтобы потому поэтому
или либо тот эта эти этот мой моя мои моего ваш ваша ваши вашего его её их им ему ей
кто никто ничего что-то кто-то первый второй последний новый новая новое старый
страховка страховки полис полиса машина машины квартира квартиры дом дома офис офиса
отделение отделения визит встреча встречу мастер мастера ремонт ремонта гарантия
гарантии процент проценты ставка ставки остаток баланс выписка выписку операция
операции мошенничество мошенники украли потерял потеряла подозрительная скидка скидку
цена цены стоимость бесплатно
";

const HE_WORDS: &str = "
אני אתה את זה לא כן מה של על עם יש אין גם רק הוא היא אנחנו אתם הם שלי שלך שלו שלה
שלנו שלכם שלום תודה בבקשה רגע בסדר טוב מאוד עכשיו היום מחר אתמול בוקר ערב צהריים
שעה שעות דקה דקות יום ימים שבוע שבועות חודש חודשים שנה טלפון הטלפון בטלפון לטלפון
מהטלפון נייד הנייד בנייד לנייד פלאפון פרטי הפרטי פרטית מספר המספר במספר למספר
מהמספר חשבון החשבון בחשבון לחשבון מהחשבון כרטיס הכרטיס בכרטיס לכרטיס אשראי האשראי
כסף הכסף בכסף שקל שקלים סכום הסכום העברה ההעברה בהעברה תשלום התשלום בתשלום לתשלום
תשלומים חוזה החוזה בחוזה הזמנה ההזמנה בהזמנה משלוח המשלוח כתובת הכתובת בכתובת מייל
במייל סיסמה הסיסמה קוד הקוד בנק הבנק בבנק לבנק מהבנק לקוח הלקוח ללקוח לקוחה לקוחות
נציג הנציג לנציג נציגה מנהל המנהל למנהל מחלקה המחלקה במחלקה חברה החברה בחברה לחברה
שירות השירות בשירות לשירות בעיה הבעיה בבעיה בעיות שאלה השאלה שאלות מידע המידע פרטים
הפרטים בפרטים סוד הסוד והסוד בסוד לסוד סודי סודית מסחרי המסחרי מסחרית שיחה השיחה
בשיחה לשיחה שיחות להתקשר התקשרתי אתקשר תתקשר מתקשר מתקשרת התקשרו לדבר מדבר מדברת
דיברתי אמרתי אמרת אמר אמרה לבדוק אבדוק בודק בודקת בדקתי לאשר מאשר מאשרת אישור
האישור לשלוח שלחתי נשלח שולח לקבל קיבלתי מקבל לשלם שילמתי משלם לבטל ביטול הביטול
לשנות שינוי השינוי החזר ההחזר תלונה התלונה מסלול המסלול חבילה החבילה אינטרנט
האינטרנט באינטרנט חיבור קליטה הודעה ההודעה הודעות אפליקציה באפליקציה אתר באתר
חשבונית החשבונית ביטוח הביטוח פוליסה הפוליסה תביעה רכב הרכב בית הבית דירה משרד
המשרד סניף הסניף בסניף תור התור פגישה הפגישה מחיר המחיר הנחה ההנחה מבצע חינם עלות
העלות חיוב החיוב חויבתי זיכוי הזיכוי יתרה היתרה הלוואה ההלוואה ריבית מסגרת תעודת
זהות משפחה תאריך לידה כמובן בדיוק באמת לצערי אולי אפשר צריך צריכה רוצה רציתי יכול
יכולה יודע יודעת מבין מבינה חושב חושבת נכון ממש עוד כבר אחר אחרי לפני כל הכל משהו
מישהו איפה מתי למה כמה איזה איזו אז אבל או כי אם כמו יותר פחות הרבה קצת אחד אחת
להמתין ממתין לחכות מחכה שנייה טכנאי הטכנאי תיקון התיקון אחריות האחריות חסום חסומה
לחסום לשחרר הונאה גניבה נגנב איבדתי פיקדון חיסכון הלקוחות והלקוח כשהלקוח שהטלפון
";

/// Phrases planted at known places (about [`PLANT_RATE`] of segments).
const PLANTED: [(&str, &str); 8] = [
    ("en", "personal mobile"),
    ("en", "trade secret"),
    ("pl", "prywatnej komórki"),
    ("pl", "tajemnica handlowa"),
    ("ru", "не телефонный разговор"),
    ("ru", "личного мобильного"),
    ("he", "סוד מסחרי"),
    ("he", "הטלפון הפרטי"),
];
const PLANT_RATE: f64 = 0.001;

/// Share of calls per language.
const LANGS: [(&str, f64); 4] = [("pl", 0.35), ("ru", 0.25), ("he", 0.15), ("en", 0.25)];
const ZIPF_S: f64 = 1.1;
const WORDS_PER_S: f64 = 2.5;
const AGENTS: u64 = 40;
const DAYS: i64 = 90;
/// 2026-05-01T00:00:00Z.
const EPOCH_S: i64 = 1_777_593_600;

// ---------------------------------------------------------------------------
// PRNG: splitmix64.

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi] (inclusive).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
}

/// A vocabulary with its Zipf CDF.
struct Vocab {
    lang: &'static str,
    words: Vec<&'static str>,
    cdf: Vec<f64>,
}

impl Vocab {
    fn new(lang: &'static str, text: &'static str) -> Self {
        let mut words: Vec<&'static str> = Vec::new();
        for w in text.split_whitespace() {
            if !words.contains(&w) {
                words.push(w);
            }
        }
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=words.len())
            .map(|r| {
                acc += 1.0 / (r as f64).powf(ZIPF_S);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Vocab { lang, words, cdf }
    }

    fn sample(&self, rng: &mut Rng) -> &'static str {
        let u = rng.f64();
        let i = self
            .cdf
            .partition_point(|&c| c < u)
            .min(self.words.len() - 1);
        self.words[i]
    }
}

fn vocabularies() -> Vec<Vocab> {
    vec![
        Vocab::new("pl", PL_WORDS),
        Vocab::new("ru", RU_WORDS),
        Vocab::new("he", HE_WORDS),
        Vocab::new("en", EN_WORDS),
    ]
}

fn vocab<'a>(vocabs: &'a [Vocab], lang: &str) -> &'a Vocab {
    vocabs.iter().find(|v| v.lang == lang).expect("vocabulary")
}

// ---------------------------------------------------------------------------
// Synthetic calls.

struct Corpus {
    calls: Vec<Transcript>,
    segments: usize,
    /// Planted phrase → segments it was planted in.
    planted: BTreeMap<&'static str, usize>,
}

fn capitalize(word: &str) -> String {
    let mut cs = word.chars();
    match cs.next() {
        Some(c) => c.to_uppercase().chain(cs).collect(),
        None => String::new(),
    }
}

fn segment_text(rng: &mut Rng, v: &Vocab, words: usize, plant: Option<&'static str>) -> String {
    let mut ws: Vec<String> = (0..words).map(|_| v.sample(rng).to_string()).collect();
    if let Some(p) = plant {
        let at = rng.range(0, ws.len() as u64 - 1) as usize;
        ws[at] = p.to_string();
    }
    let mut text = String::new();
    for (i, w) in ws.iter().enumerate() {
        if i == 0 {
            text.push_str(&capitalize(w));
        } else {
            text.push(' ');
            text.push_str(w);
        }
        if i + 1 < ws.len() && rng.chance(0.06) {
            text.push(',');
        }
    }
    text.push(if rng.chance(0.2) { '?' } else { '.' });
    text
}

fn generate(n_segments: usize, vocabs: &[Vocab], seed: u64) -> Corpus {
    let mut rng = Rng(seed);
    let mut calls = Vec::new();
    let mut planted = BTreeMap::new();
    let mut total = 0;
    while total < n_segments {
        let mut id_rng = Rng(rng.next_u64());
        let call_id: String = (0..4)
            .map(|_| format!("{:016x}", id_rng.next_u64()))
            .collect();
        let u = rng.f64();
        let mut acc = 0.0;
        let lang = LANGS
            .iter()
            .find(|(_, p)| {
                acc += p;
                u < acc
            })
            .map_or("en", |(l, _)| l);
        let v = vocab(vocabs, lang);
        let phrases: Vec<&'static str> = PLANTED
            .iter()
            .filter(|(l, _)| *l == lang)
            .map(|(_, p)| *p)
            .collect();
        let n = (rng.range(40, 60) as usize).min(n_segments - total);
        let mut segments = Vec::with_capacity(n);
        let mut t = rng.range(300, 2_000);
        let mut channel = 0usize;
        for _ in 0..n {
            // 1–15 s, short turns more common than long ones.
            let dur = 1_000 + (14_000.0 * rng.f64().powf(1.5)) as u64;
            let words = ((dur as f64 / 1000.0 * WORDS_PER_S).round() as usize).max(1);
            let plant = if rng.chance(PLANT_RATE) {
                let p = phrases[rng.range(0, phrases.len() as u64 - 1) as usize];
                *planted.entry(p).or_insert(0) += 1;
                Some(p)
            } else {
                None
            };
            segments.push(Segment {
                start_ms: t,
                end_ms: t + dur,
                channel,
                speaker: if channel == 0 { "agent" } else { "customer" }.to_string(),
                language: lang.to_string(),
                text: segment_text(&mut rng, v, words, plant),
                avg_logprob: -0.1 - 0.4 * rng.f64() as f32,
                no_speech_prob: 0.05 * rng.f64() as f32,
            });
            t += dur + rng.range(200, 1_500);
            // Mostly alternating turns; now and then one speaker goes on.
            if !rng.chance(0.12) {
                channel = 1 - channel;
            }
        }
        let start_s = EPOCH_S + rng.range(0, (DAYS * 86_400) as u64 - 1) as i64;
        let agent = format!("1{:02}", rng.range(0, AGENTS - 1));
        total += n;
        calls.push(Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            source_path: format!("/recordings/{}/{call_id}.wav", agent),
            content_hash: format!("blake3:{call_id}"),
            call_start: Some(jiff::Timestamp::from_second(start_s).expect("timestamp")),
            duration_ms: t,
            channels: 2,
            sample_rate_hz: 8000,
            codec: "pcm_mulaw".into(),
            metadata: BTreeMap::from([("agent".to_string(), agent)]),
            model: "ggml-large-v3-turbo.bin".into(),
            languages: BTreeMap::from([
                ("agent".to_string(), lang.to_string()),
                ("customer".to_string(), lang.to_string()),
            ]),
            segments,
            speech: Vec::new(),
            warnings: Vec::new(),
            metadata_source: Default::default(),
            pipeline: "test".into(),
            processed_at: None,
            processing_ms: None,
            analysis: None,
            call_id,
        });
    }
    Corpus {
        calls,
        segments: total,
        planted,
    }
}

// ---------------------------------------------------------------------------
// Measurements.

#[derive(Default)]
struct Latency {
    ms: Vec<f64>,
    hits: usize,
    with_hits: usize,
    /// (ms, query, hits) of each timed query.
    each: Vec<(f64, String, usize)>,
}

impl Latency {
    fn pct(&self, q: f64) -> f64 {
        percentile(&self.ms, q)
    }
}

/// Nearest-rank percentile.
/// A request as one would type it.
fn describe(r: &SearchRequest) -> String {
    let f = &r.filters;
    match (&f.agent, f.from, f.to) {
        (Some(a), Some(from), Some(to)) => format!(
            "{} --agent {a} --from {} --to {}",
            r.query,
            from.strftime("%F"),
            to.strftime("%F")
        ),
        _ => r.query.clone(),
    }
}

/// The `k` slowest distinct queries: (worst ms, query, hits).
fn slowest(each: &[(f64, String, usize)], k: usize) -> Vec<(f64, String, usize)> {
    let mut worst: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for (t, q, hits) in each {
        let e = worst.entry(q.as_str()).or_insert((0.0, *hits));
        e.0 = e.0.max(*t);
    }
    let mut v: Vec<(f64, String, usize)> = worst
        .into_iter()
        .map(|(q, (t, h))| (t, q.to_string(), h))
        .collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    v.truncate(k);
    v
}

fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn request(query: &str, filters: SearchFilters) -> SearchRequest {
    SearchRequest {
        query: query.to_string(),
        exact: false,
        filters,
        sort: SearchSort::Score,
        limit: 20,
        offset: 0,
    }
}

const WARMUP: usize = 30;
const QUERIES: usize = 250;

fn measure(index: &SearchIndex, reqs: &[SearchRequest]) -> Latency {
    let mut lat = Latency::default();
    for r in reqs.iter().cycle().take(WARMUP) {
        index.search(r).expect("search");
    }
    for r in reqs.iter().cycle().take(QUERIES) {
        let t0 = Instant::now();
        let res = index.search(r).expect("search");
        let took = ms(t0.elapsed());
        lat.ms.push(took);
        lat.each.push((took, describe(r), res.total));
        lat.hits += res.total;
        lat.with_hits += usize::from(res.total > 0);
    }
    lat
}

/// What the grep/jq user reads.
#[derive(serde::Deserialize)]
struct ScanDoc {
    segments: Vec<ScanSegment>,
}

#[derive(serde::Deserialize)]
struct ScanSegment {
    text: String,
}

/// Reads and parses every transcript, counts segments whose lowercased text
/// contains `needle` (lowercased).
fn scan(out: &Path, needle: &str) -> usize {
    let needle = needle.to_lowercase();
    let mut found = 0;
    for entry in std::fs::read_dir(out.join("transcripts")).expect("transcripts") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read transcript");
        let doc: ScanDoc = serde_json::from_slice(&bytes).expect("parse transcript");
        found += doc
            .segments
            .iter()
            .filter(|s| s.text.to_lowercase().contains(&needle))
            .count();
    }
    found
}

/// Median of `runs` scans, in ms, and the count found.
fn timed_scan(out: &Path, needle: &str, runs: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        found = scan(out, needle);
        times.push(ms(t0.elapsed()));
    }
    (percentile(&times, 0.5), found)
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() {
            dir_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// Bytes of the index by file kind (`store`, `pos`, `idx`, `term`, …), largest first.
fn bytes_by_kind(dir: &Path) -> Vec<(String, u64)> {
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if let (Some(ext), Ok(meta)) = (path.extension(), entry.metadata()) {
            *by.entry(ext.to_string_lossy().into_owned()).or_insert(0) += meta.len();
        }
    }
    let mut v: Vec<(String, u64)> = by.into_iter().collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.1));
    v
}

fn tantivy_segments(index_dir: &Path) -> usize {
    std::fs::read_to_string(index_dir.join("meta.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v.get("segments").and_then(|s| s.as_array()).map(Vec::len))
        .unwrap_or(0)
}

fn binary() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        option_env!("CARGO_BIN_EXE_callsift").map(PathBuf::from),
        Some(root.join("target/release/callsift")),
    ];
    let found = |c: &[Option<PathBuf>]| c.iter().flatten().find(|p| p.is_file()).cloned();
    if let Some(p) = found(&candidates) {
        return Some(p);
    }
    eprintln!("building the release binary (cargo build --release) …");
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--bin", "callsift"])
        .current_dir(&root)
        .status()
        .is_ok_and(|s| s.success());
    if built { found(&candidates) } else { None }
}

/// Wall time of whole `callsift search` processes, in ms.
fn whole_process(bin: &Path, out: &Path, words: &[String], runs: usize) -> Vec<f64> {
    let mut times = Vec::new();
    for (i, w) in words.iter().cycle().take(runs + 3).enumerate() {
        let t0 = Instant::now();
        let status = Command::new(bin)
            .args(["search", w, "--out"])
            .arg(out)
            .args(["--format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run callsift");
        let elapsed = ms(t0.elapsed());
        assert!(status.success(), "callsift search {w} failed: {status}");
        // The first few warm the page cache and the binary.
        if i >= 3 {
            times.push(elapsed);
        }
    }
    times
}

// ---------------------------------------------------------------------------
// Queries.

struct Queries {
    words: Vec<String>,
    phrases: Vec<String>,
    /// Phrases with one of the most frequent words: the worst case.
    common_phrases: Vec<String>,
    fuzzy: Vec<String>,
    prefix: Vec<String>,
    /// Word, agent, from, to.
    filtered: Vec<(String, String, jiff::Timestamp, jiff::Timestamp)>,
}

/// Mid-frequency words: Zipf ranks 50..500 of each language, interleaved.
fn mid_words(vocabs: &[Vocab], min_chars: usize, per_lang: usize) -> Vec<String> {
    let mut out = Vec::new();
    for k in 0..per_lang {
        for v in vocabs {
            let upper = v.words.len().min(500);
            let candidates: Vec<&str> = v.words[50..upper]
                .iter()
                .copied()
                .filter(|w| w.chars().count() >= min_chars && w.chars().all(char::is_alphabetic))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            // Spread over the range: ranks 50.., step through it.
            let i = (k * candidates.len()) / per_lang;
            out.push(candidates[i].to_string());
        }
    }
    out
}

fn queries(vocabs: &[Vocab], corpus: &Corpus, seed: u64) -> Queries {
    let mut rng = Rng(seed);
    let words = mid_words(vocabs, 3, 10);
    let fuzzy = mid_words(vocabs, 5, 10)
        .into_iter()
        .map(|w| format!("{w}~1"))
        .collect();
    let mut prefix = vec![
        "mobil*".to_string(),
        "мобил*".to_string(),
        "komór*".to_string(),
    ];
    for w in mid_words(vocabs, 7, 10) {
        let n = if rng.chance(0.5) { 4 } else { 5 };
        prefix.push(format!("{}*", w.chars().take(n).collect::<String>()));
    }
    // Planted phrases, and adjacent word pairs taken from random segments:
    // pairs of content words (both outside each vocabulary's 50 most
    // frequent words, the range the word queries use) for the target, and
    // pairs with a very frequent word ("nie nie", "я не") reported apart as
    // the worst case.
    let frequent: std::collections::HashSet<String> = vocabs
        .iter()
        .flat_map(|v| v.words.iter().take(50).map(|w| w.to_lowercase()))
        .collect();
    let mut phrases: Vec<String> = PLANTED.iter().map(|(_, p)| format!("\"{p}\"")).collect();
    let mut common_phrases: Vec<String> = Vec::new();
    while phrases.len() < 40 || common_phrases.len() < 20 {
        let call = &corpus.calls[rng.range(0, corpus.calls.len() as u64 - 1) as usize];
        let seg = &call.segments[rng.range(0, call.segments.len() as u64 - 1) as usize];
        let ws: Vec<String> = seg
            .text
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase())
            .collect();
        if ws.len() < 2 || seg.text.contains(',') {
            continue;
        }
        let i = rng.range(0, ws.len() as u64 - 2) as usize;
        let phrase = format!("\"{} {}\"", ws[i], ws[i + 1]);
        if frequent.contains(&ws[i]) || frequent.contains(&ws[i + 1]) {
            if common_phrases.len() < 20 {
                common_phrases.push(phrase);
            }
        } else if phrases.len() < 40 {
            phrases.push(phrase);
        }
    }
    let filtered = words
        .iter()
        .map(|w| {
            let agent = format!("1{:02}", rng.range(0, AGENTS - 1));
            let from_s = EPOCH_S + rng.range(0, 60) as i64 * 86_400;
            let from = jiff::Timestamp::from_second(from_s).expect("from");
            let to = jiff::Timestamp::from_second(from_s + 30 * 86_400).expect("to");
            (w.clone(), agent, from, to)
        })
        .collect();
    Queries {
        words,
        phrases,
        common_phrases,
        fuzzy,
        prefix,
        filtered,
    }
}

// ---------------------------------------------------------------------------
// One size, start to finish.

struct SizeResult {
    segments: usize,
    calls: usize,
    index_s: f64,
    /// open, replace loop, commit, close (s).
    index_parts: [f64; 4],
    docs_s: f64,
    index_bytes: u64,
    index_kinds: Vec<(String, u64)>,
    tantivy_segments: usize,
    kinds: Vec<(&'static str, Latency)>,
    scan_word: (String, f64, usize, usize),
    scan_phrase: (String, f64, usize, usize),
    planted: Vec<(&'static str, usize, usize)>,
    process: Option<Vec<f64>>,
}

fn run_size(
    n: usize,
    vocabs: &[Vocab],
    work: &Path,
    bin: Option<&Path>,
    with_process: bool,
) -> SizeResult {
    let out = work.join(format!("n{n}"));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("work folder");

    let t0 = Instant::now();
    let corpus = generate(n, vocabs, 0x5EED_0000 ^ n as u64);
    eprintln!(
        "[{n}] generated {} calls, {} segments in {:.1} s",
        corpus.calls.len(),
        corpus.segments,
        t0.elapsed().as_secs_f64()
    );

    // The writer is opened before the transcripts exist: opened over
    // transcripts without an index, it would catch up on all of them itself.
    let t_open = Instant::now();
    let mut writer = IndexWriterHandle::open(
        &out,
        &WriterOptions {
            threads: 2,
            memory_bytes: 512 << 20,
        },
    )
    .expect("open index writer");
    let open_s = t_open.elapsed().as_secs_f64();

    let t0 = Instant::now();
    let mut sink = TranscriptJsonSink::new(&out).expect("transcript sink");
    for t in &corpus.calls {
        sink.accept(t).expect("write transcript");
    }
    sink.finish().expect("finish transcripts");
    eprintln!(
        "[{n}] wrote transcripts in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let t0 = Instant::now();
    for t in &corpus.calls {
        writer.replace(t).expect("replace");
    }
    let replace_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    writer.commit().expect("commit");
    let commit_s = t1.elapsed().as_secs_f64();
    let t1 = Instant::now();
    writer.close().expect("close");
    let close_s = t1.elapsed().as_secs_f64();
    let index_s = open_s + t0.elapsed().as_secs_f64();
    let index_parts = [open_s, replace_s, commit_s, close_s];
    eprintln!("[{n}] indexed in {index_s:.1} s");

    // Where indexing time goes: building the documents (text analysis) alone.
    let fields = Fields::new();
    let t0 = Instant::now();
    let mut docs = 0;
    for t in &corpus.calls {
        docs += callsift::index::docs::call_documents(&fields, t).len();
    }
    let docs_s = t0.elapsed().as_secs_f64();
    eprintln!("[{n}] {docs} documents built alone in {docs_s:.1} s");

    let index_dir = out.join("index");
    let index_bytes = dir_bytes(&index_dir);
    let tantivy_segments = tantivy_segments(&index_dir);
    let index_kinds = bytes_by_kind(&index_dir);

    let index = SearchIndex::open(&out).expect("open index");
    let q = queries(vocabs, &corpus, 0xC0FFEE ^ n as u64);
    let none = SearchFilters::default;
    let reqs =
        |qs: &[String]| -> Vec<SearchRequest> { qs.iter().map(|s| request(s, none())).collect() };
    let filtered: Vec<SearchRequest> = q
        .filtered
        .iter()
        .map(|(w, agent, from, to)| {
            request(
                w,
                SearchFilters {
                    agent: Some(agent.clone()),
                    from: Some(*from),
                    to: Some(*to),
                    ..SearchFilters::default()
                },
            )
        })
        .collect();
    let mut kinds = Vec::new();
    for (name, rs) in [
        ("word", reqs(&q.words)),
        ("phrase", reqs(&q.phrases)),
        ("phrase-frequent", reqs(&q.common_phrases)),
        ("fuzzy", reqs(&q.fuzzy)),
        ("prefix", reqs(&q.prefix)),
        ("filtered", filtered),
    ] {
        let t0 = Instant::now();
        let lat = measure(&index, &rs);
        eprintln!(
            "[{n}] {name}: {} queries in {:.1} s",
            lat.ms.len(),
            t0.elapsed().as_secs_f64()
        );
        kinds.push((name, lat));
    }

    let planted = corpus
        .planted
        .iter()
        .map(|(p, &count)| {
            let total = index
                .search(&request(&format!("\"{p}\""), none()))
                .expect("search")
                .total;
            (*p, count, total)
        })
        .collect();

    // The scan baseline: a mid-frequency word and a planted phrase.
    let scan_word_q = q.words[0].clone();
    let scan_phrase_q = "prywatnej komórki".to_string();
    let t0 = Instant::now();
    let (word_ms, word_found) = timed_scan(&out, &scan_word_q, 3);
    let (phrase_ms, phrase_found) = timed_scan(&out, &scan_phrase_q, 3);
    eprintln!("[{n}] scans in {:.1} s", t0.elapsed().as_secs_f64());
    let total_of = |query: &str| index.search(&request(query, none())).expect("search").total;
    let scan_word = (
        scan_word_q.clone(),
        word_ms,
        word_found,
        total_of(&scan_word_q),
    );
    let scan_phrase = (
        scan_phrase_q.clone(),
        phrase_ms,
        phrase_found,
        total_of(&format!("\"{scan_phrase_q}\"")),
    );

    let process = match (with_process, bin) {
        (true, Some(bin)) => {
            let t0 = Instant::now();
            let times = whole_process(bin, &out, &q.words[..6.min(q.words.len())], 40);
            eprintln!(
                "[{n}] whole process x{} in {:.1} s",
                times.len(),
                t0.elapsed().as_secs_f64()
            );
            Some(times)
        }
        _ => None,
    };
    drop(index);

    SizeResult {
        segments: corpus.segments,
        calls: corpus.calls.len(),
        index_s,
        index_parts,
        docs_s,
        index_bytes,
        index_kinds,
        tantivy_segments,
        kinds,
        scan_word,
        scan_phrase,
        planted,
        process,
    }
}

// ---------------------------------------------------------------------------
// Report.

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_table(r: &SizeResult, process_note: Option<&str>) -> usize {
    let mut fails = 0;
    let mut row = |what: &str, value: String, target: &str, ok: Option<bool>| {
        let mark = match ok {
            Some(ok) => {
                fails += usize::from(!ok);
                verdict(ok)
            }
            None => "",
        };
        println!("  {what:<48} {value:>30}   {target:<26} {mark}");
    };
    println!();
    println!(
        "=== N = {} segments ({} calls) ===",
        thousands(r.segments as f64),
        thousands(r.calls as f64)
    );
    println!(
        "  {:<48} {:>30}   {:<26} result",
        "measure", "value", "target"
    );
    let rate = r.segments as f64 / r.index_s;
    row(
        "indexing (2 threads, 512 MiB)",
        format!("{} seg/s ({:.1} s)", thousands(rate), r.index_s),
        ">= 20,000 seg/s",
        Some(rate >= 20_000.0),
    );
    row(
        "  of which documents alone",
        format!(
            "{} seg/s ({:.1} s)",
            thousands(r.segments as f64 / r.docs_s),
            r.docs_s
        ),
        "(single thread)",
        None,
    );
    row(
        "index size",
        format!(
            "{:.0} B/seg ({:.1} MiB)",
            r.index_bytes as f64 / r.segments as f64,
            r.index_bytes as f64 / (1 << 20) as f64
        ),
        &format!("({} tantivy segments)", r.tantivy_segments),
        None,
    );
    let kinds: Vec<String> = r
        .index_kinds
        .iter()
        .map(|(k, b)| format!("{k} {:.0}", *b as f64 / r.segments as f64))
        .collect();
    println!("    by file kind (B/seg): {}", kinds.join(", "));
    let lat = |name: &str| &r.kinds.iter().find(|(k, _)| *k == name).expect("kind").1;
    for (name, p50_max, p99_max) in [
        ("word", Some(5.0), 25.0),
        ("phrase", Some(5.0), 25.0),
        ("phrase-frequent", None, f64::NAN),
        ("fuzzy", None, 100.0),
        ("prefix", None, 100.0),
        ("filtered", None, f64::NAN),
    ] {
        let l = lat(name);
        let (p50, p99) = (l.pct(0.5), l.pct(0.99));
        let value = format!("{p50:.2} / {p99:.2} ms");
        let what = format!(
            "{name} p50/p99 (n={}, {:.0}% hit, ~{} hits)",
            l.ms.len(),
            100.0 * l.with_hits as f64 / l.ms.len() as f64,
            l.hits / l.ms.len().max(1)
        );
        match (p50_max, p99_max.is_nan()) {
            (Some(m50), _) => row(
                &what,
                value,
                &format!("p50 < {m50} ms, p99 < {p99_max} ms"),
                Some(p50 < m50 && p99 < p99_max),
            ),
            (None, false) => row(
                &what,
                value,
                &format!("p99 < {p99_max} ms"),
                Some(p99 < p99_max),
            ),
            (None, true) => row(&what, value, "-", None),
        }
        if name == "phrase" {
            // The planted phrases alone: what people look for, not stop-word pairs.
            let planted: Vec<f64> = l
                .each
                .iter()
                .filter(|(_, q, _)| PLANTED.iter().any(|(_, p)| q.trim_matches('"') == *p))
                .map(|(t, _, _)| *t)
                .collect();
            let random: Vec<f64> = l
                .each
                .iter()
                .filter(|(_, q, _)| !PLANTED.iter().any(|(_, p)| q.trim_matches('"') == *p))
                .map(|(t, _, _)| *t)
                .collect();
            for (label, v) in [("planted", planted), ("random content-word pair", random)] {
                row(
                    &format!("  of which {label} (n={})", v.len()),
                    format!(
                        "{:.2} / {:.2} ms",
                        percentile(&v, 0.5),
                        percentile(&v, 0.99)
                    ),
                    "",
                    None,
                );
            }
        }
    }
    for (label, (query, scan_ms, found, total), kind) in [
        ("word", &r.scan_word, "word"),
        ("phrase", &r.scan_phrase, "phrase"),
    ] {
        row(
            &format!("scan {label} `{query}` (median of 3)"),
            format!("{scan_ms:.0} ms ({found} seg; index {total})"),
            "",
            None,
        );
        let ratio = scan_ms / lat(kind).pct(0.5);
        row(
            &format!("  scan / index p50 ({label})"),
            format!("{}x", thousands(ratio)),
            ">= 100x",
            Some(ratio >= 100.0),
        );
    }
    match (&r.process, process_note) {
        (Some(times), _) => {
            let (p50, p99) = (percentile(times, 0.5), percentile(times, 0.99));
            row(
                &format!("whole `callsift search` (n={})", times.len()),
                format!("p50 {p50:.1} / p99 {p99:.1} ms"),
                "p50 < 50 ms",
                Some(p50 < 50.0),
            );
        }
        (None, Some(note)) => row("whole `callsift search`", "skipped".into(), note, None),
        (None, None) => {}
    }
    let planted: Vec<String> = r
        .planted
        .iter()
        .map(|(p, planted, found)| format!("\"{p}\" {planted}/{found}"))
        .collect();
    println!(
        "  planted/found (phrase: planted segments/index hits): {}",
        planted.join(", ")
    );
    println!(
        "  indexing parts: open {:.1} s, replace() {:.1} s, commit {:.1} s, close {:.1} s",
        r.index_parts[0], r.index_parts[1], r.index_parts[2], r.index_parts[3]
    );
    for (name, l) in &r.kinds {
        let worst: Vec<String> = slowest(&l.each, 3)
            .into_iter()
            .map(|(t, q, hits)| format!("{q} {t:.1} ms/{hits} hits"))
            .collect();
        println!("  slowest {name}: {}", worst.join("; "));
    }
    fails
}

// The same allocator as the callsift binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let sizes: Vec<usize> = std::env::var("CALLSIFT_BENCH_SIZES")
        .ok()
        .map(|s| {
            s.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    p.trim()
                        .replace('_', "")
                        .parse()
                        .expect("CALLSIFT_BENCH_SIZES: numbers")
                })
                .collect()
        })
        .unwrap_or_else(|| vec![100_000, 1_000_000]);
    let keep = std::env::var("CALLSIFT_BENCH_KEEP").is_ok_and(|v| v == "1");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target/bench-search");
    std::fs::create_dir_all(&work).expect("work folder");
    let vocabs = vocabularies();
    eprintln!(
        "vocabularies: {}",
        vocabs
            .iter()
            .map(|v| format!("{} {}", v.lang, v.words.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The whole process runs at 10^5 (or the smallest size given).
    let process_at = if sizes.contains(&100_000) {
        100_000
    } else {
        sizes.iter().copied().min().unwrap_or(0)
    };
    let bin = binary();
    let note = bin
        .is_none()
        .then_some("no target/release/callsift (cargo build --release failed)");
    if let Some(n) = note {
        eprintln!("note: {n}; the whole-process measurement is skipped");
    }

    let started = Instant::now();
    let mut results = Vec::new();
    for &n in &sizes {
        results.push(run_size(n, &vocabs, &work, bin.as_deref(), n == process_at));
    }
    println!();
    println!(
        "callsift search bench: targets are for 10^6 segments (whole process: 10^5); at other sizes the verdicts are indicative"
    );
    let mut fails = 0;
    for r in &results {
        fails += print_table(r, if r.segments == process_at { note } else { None });
    }
    println!();
    rules_stage(&vocabs);
    println!(
        "{} FAIL(s); bench wall time {:.0} s; work folder {}{}",
        fails,
        started.elapsed().as_secs_f64(),
        work.display(),
        if keep { " (kept)" } else { " (removed)" }
    );
    if !keep {
        let _ = std::fs::remove_dir_all(&work);
    }
}

/// The rules stage's cost per call (see the module docs).
fn rules_stage(vocabs: &[Vocab]) {
    let calls: usize = std::env::var("CALLSIFT_BENCH_RULE_CALLS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(2_000);
    if calls == 0 {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut pipeline = callsift::config::PipelineFile::default();
    for name in ["security", "sales-quality", "compliance"] {
        let path = root.join(format!("pipelines/{name}.toml"));
        let p = callsift::config::PipelineFile::load(&path).expect("shipped pipeline");
        pipeline.watchlist.extend(p.watchlist);
        pipeline.do_not_call.extend(p.do_not_call);
        pipeline.scorecard.extend(p.scorecard);
    }
    let phrases: usize = pipeline
        .watchlist
        .iter()
        .map(|w| w.phrases.as_ref().map_or(0, |p| p.get_ref().len()))
        .sum();
    let criteria: usize = pipeline.scorecard.iter().map(|c| c.criterion.len()).sum();
    let rules = callsift::rules::RuleSet::new(&pipeline, "bench").expect("rules");
    // About 50 segments a call.
    let corpus = generate(calls * 50, vocabs, 0x5eed_4a1e);
    let started = Instant::now();
    let mut hits = 0;
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_call = Vec::with_capacity(corpus.calls.len());
    for t in &corpus.calls {
        let t0 = Instant::now();
        let analysis = rules.judge(t).expect("judge").analysis;
        per_call.push(ms(t0.elapsed()));
        hits += analysis.hits.len();
        for h in analysis.hits {
            *by_rule
                .entry(format!("{} «{}»", h.rule, h.phrase))
                .or_insert(0) += 1;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    println!();
    println!(
        "rules stage: {} calls ({} segments) judged by {} watchlists ({phrases} phrases), {} do-not-call rules, {} scorecards ({criteria} criteria)",
        corpus.calls.len(),
        corpus.segments,
        pipeline.watchlist.len(),
        pipeline.do_not_call.len(),
        pipeline.scorecard.len(),
    );
    println!(
        "  {:.2} ms per call (p50 {:.2}, p99 {:.2}), {:.0} calls/s on one thread; {hits} hits ({} phrases planted)",
        1000.0 * wall / corpus.calls.len() as f64,
        percentile(&per_call, 0.5),
        percentile(&per_call, 0.99),
        corpus.calls.len() as f64 / wall,
        corpus.planted.values().sum::<usize>(),
    );
    // Random words meet short phrases now and then: which ones, how often.
    let mut top: Vec<(String, usize)> = by_rule.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (what, n) in top.iter().take(8) {
        println!("  {n:>5}  {what}");
    }
}
