//! Recordings as bytes a browser's `<audio>` can play, and the HTTP Range arithmetic to
//! serve them by parts.
//!
//! Chromium and Firefox play 16-bit PCM WAV, MP3, FLAC, Vorbis and Opus in Ogg and AAC in
//! MP4, but not the G.711 and IMA ADPCM WAV files telephony systems write (and 24/32-bit
//! or float WAV only sometimes). [`open_for_browser`] therefore passes files in a playable
//! format through as they are ([`AudioBody::File`], read from disk by range) and
//! transcodes everything else through [`crate::decode::DecodeStream`] to 16-bit PCM WAV
//! at the file's own rate and channel count ([`AudioBody::Memory`]). The transcode keeps
//! the decoder's timeline exactly (inserted silence included), so a hit at 83.2 s in a
//! transcript is at 83.2 s in what the browser plays.
//!
//! A browser fetches one recording in several Range requests (and seeks by more), so
//! transcodes are kept in a [`TranscodeCache`]: an LRU keyed by path, size and mtime,
//! shared by the server's blocking threads. Transcoding runs outside the cache's lock;
//! requests for a file being transcoded wait for that one transcode instead of starting
//! their own.
//!
//! No HTTP types here: the server turns [`RangeSpec`] and [`AudioBody`] into responses.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crate::decode::{self, DecodeStream};
use crate::error::Error;

/// MIME type of what a transcode produces.
pub const WAV_MIME: &str = "audio/wav";

/// Default largest transcode, in bytes of WAV output: about 4.6 hours of 8 kHz stereo
/// or 9 hours of 8 kHz mono. Longer recordings are refused rather than held in memory.
pub const DEFAULT_MAX_TRANSCODE_BYTES: u64 = 512 << 20;

/// Size of the canonical WAV header written in front of transcoded samples.
const WAV_HEADER_LEN: usize = 44;

/// Most sample bytes one WAV file can describe: its RIFF length field is 32-bit.
const WAV_MAX_DATA_BYTES: u64 = u32::MAX as u64 - WAV_HEADER_LEN as u64;

/// What a cached pass-through decision costs in the cache's budget (it holds no audio,
/// but the map entry and path are not free, and the LRU has to bound them too).
const PASS_ENTRY_COST: u64 = 256;

/// Chunks walked before a WAV's `data` chunk when deciding whether it plays as it is.
const WAV_MAX_CHUNKS: usize = 64;

/// What the server sends for a recording.
#[derive(Debug, Clone)]
pub enum AudioBody {
    /// The file as it is (a format browsers play): streamed from disk by range.
    File {
        path: PathBuf,
        len: u64,
        mime: &'static str,
    },
    /// Transcoded to 16-bit PCM WAV (same rate and channels), held in memory.
    Memory {
        bytes: Arc<Vec<u8>>,
        mime: &'static str,
    },
}

impl AudioBody {
    /// Length of the whole body in bytes (`Content-Length` of a full answer).
    pub fn len(&self) -> u64 {
        match self {
            AudioBody::File { len, .. } => *len,
            AudioBody::Memory { bytes, .. } => bytes.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn mime(&self) -> &'static str {
        match self {
            AudioBody::File { mime, .. } | AudioBody::Memory { mime, .. } => mime,
        }
    }

    /// Bytes `start..=end_inclusive` of the body. A range outside the body is an
    /// `InvalidInput` error; a file that shrank since it was opened is `UnexpectedEof`.
    /// Everything asked for is read into memory at once, so answer long ranges in parts.
    pub fn read_range(&self, start: u64, end_inclusive: u64) -> io::Result<Vec<u8>> {
        let len = self.len();
        if start > end_inclusive || end_inclusive >= len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bytes {start}-{end_inclusive} are outside a body of {len} bytes"),
            ));
        }
        let count = usize::try_from(end_inclusive - start + 1)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "range too large"))?;
        match self {
            AudioBody::File { path, .. } => {
                let mut file = fs_err::File::open(path)?;
                file.seek(SeekFrom::Start(start))?;
                let mut buf = vec![0u8; count];
                file.read_exact(&mut buf)?;
                Ok(buf)
            }
            AudioBody::Memory { bytes, .. } => {
                // In range: `end_inclusive < len`, checked above.
                Ok(bytes[start as usize..=end_inclusive as usize].to_vec())
            }
        }
    }
}

/// Why a recording cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The recording is not there any more (purged, moved): the page says so.
    #[error("recording {} is no longer there (purged or moved)", .0.display())]
    Missing(PathBuf),
    /// It cannot be read or decoded.
    #[error("recording {} cannot be played: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// Transcoding it would need more memory than the cap allows.
    #[error(
        "recording {} is too long to transcode for playback ({seconds} s or more)",
        path.display()
    )]
    TooLong { path: PathBuf, seconds: u64 },
}

impl AudioError {
    fn unreadable(path: &Path, reason: impl Into<String>) -> Self {
        AudioError::Unreadable {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// A decoder error about `path`: a file that vanished in the meantime is `Missing`.
    fn from_decode(path: &Path, err: Error) -> Self {
        match err {
            Error::Decode { reason, .. } if reason == decode::VANISHED => {
                AudioError::Missing(path.to_path_buf())
            }
            Error::Decode { reason, .. } => AudioError::unreadable(path, reason),
            other => AudioError::unreadable(path, other.to_string()),
        }
    }
}

/// Opens a recording for the browser: passes playable files through, transcodes the rest
/// (through [`DecodeStream`], straight to i16 WAV bytes, no whole-file f32 copy), cached.
///
/// Blocking (file I/O and decoding): call it from `spawn_blocking`. Every call looks at
/// the file again, so one that changed or was purged since the last call is noticed.
pub fn open_for_browser(path: &Path, cache: &TranscodeCache) -> Result<AudioBody, AudioError> {
    let stamp = Stamp::of(path)?;
    let ready = cache.get_or_prepare(path, stamp, || prepare(path, cache.max_transcode_bytes()))?;
    Ok(match ready {
        Ready::Pass { mime } => AudioBody::File {
            path: path.to_path_buf(),
            len: stamp.len,
            mime,
        },
        Ready::Wav(bytes) => AudioBody::Memory {
            bytes,
            mime: WAV_MIME,
        },
    })
}

/// Decides how a recording reaches the browser, transcoding it if it has to.
fn prepare(path: &Path, max_bytes: u64) -> Result<Ready, AudioError> {
    let (codec, _, _) = decode::probe_info(path).map_err(|e| AudioError::from_decode(path, e))?;
    if let Some(mime) = pass_through_mime(path, &codec)? {
        return Ok(Ready::Pass { mime });
    }
    let mut stream = DecodeStream::open(path).map_err(|e| AudioError::from_decode(path, e))?;
    check_declared_length(path, &stream, max_bytes)?;
    transcode_stream(path, &mut stream, max_bytes).map(|b| Ready::Wav(Arc::new(b)))
}

/// The MIME type to send `path` as it is, or `None` when it has to be transcoded.
fn pass_through_mime(path: &Path, codec: &str) -> Result<Option<&'static str>, AudioError> {
    let unreadable = |e: io::Error| AudioError::unreadable(path, format!("cannot read file: {e}"));
    let mut file = std::fs::File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => AudioError::Missing(path.to_path_buf()),
        _ => unreadable(e),
    })?;
    let mut head = [0u8; 16];
    let n = crate::decode::read_up_to(&mut file, &mut head).map_err(unreadable)?;
    let Some(mime) = browser_mime(codec, Container::sniff(&head[..n])) else {
        return Ok(None);
    };
    // WAV as telephony systems write it often has lengths that are wrong or unknown;
    // browsers then show a wrong duration and seek badly. A transcode writes them right.
    if mime == WAV_MIME {
        let len = file.metadata().map_err(unreadable)?.len();
        if !wav_is_clean_pcm16(&mut file, len).map_err(unreadable)? {
            return Ok(None);
        }
    }
    Ok(Some(mime))
}

/// The container, from a file's first bytes: browsers go by those, not by the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Wav,
    Ogg,
    Mp4,
    Flac,
    /// An MPEG audio elementary stream (MP3), with or without an ID3 tag in front.
    Mpeg,
    Other,
}

impl Container {
    fn sniff(head: &[u8]) -> Self {
        if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE" {
            Container::Wav
        } else if head.starts_with(b"OggS") {
            Container::Ogg
        } else if head.get(4..8) == Some(b"ftyp") {
            Container::Mp4
        } else if head.starts_with(b"fLaC") {
            Container::Flac
        } else if head.starts_with(b"ID3")
            || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0)
        {
            Container::Mpeg
        } else {
            Container::Other
        }
    }
}

/// The MIME type browsers play `codec` in `container` as, if they do. Anything not
/// listed (ADTS AAC, FLAC in Ogg, Matroska, AIFF, …) is transcoded: the list is what
/// both Chromium and Firefox are known to play, not everything some browser plays.
fn browser_mime(codec: &str, container: Container) -> Option<&'static str> {
    match (codec, container) {
        ("pcm_s16le", Container::Wav) => Some(WAV_MIME),
        ("mp3", Container::Mpeg) => Some("audio/mpeg"),
        ("flac", Container::Flac) => Some("audio/flac"),
        ("vorbis" | "opus", Container::Ogg) => Some("audio/ogg"),
        ("aac", Container::Mp4) => Some("audio/mp4"),
        _ => None,
    }
}

/// True when a WAV file is plain 16-bit PCM (format tag 1, not EXTENSIBLE) whose RIFF
/// and data lengths are all present and true, so a browser reads it as the decoder does.
fn wav_is_clean_pcm16(file: &mut (impl Read + Seek), file_len: u64) -> io::Result<bool> {
    let mut riff = [0u8; 12];
    file.seek(SeekFrom::Start(0))?;
    if crate::decode::read_up_to(file, &mut riff)? < 12 {
        return Ok(false);
    }
    let riff_end = 8 + u64::from(le_u32(&riff[4..8]));
    let mut pcm16 = false;
    let mut pos = 12u64;
    for _ in 0..WAV_MAX_CHUNKS {
        let mut header = [0u8; 8];
        file.seek(SeekFrom::Start(pos))?;
        if crate::decode::read_up_to(file, &mut header)? < 8 {
            return Ok(false);
        }
        let len = le_u32(&header[4..8]);
        let body = pos + 8;
        match &header[0..4] {
            b"fmt " => {
                let mut fmt = [0u8; 16];
                if len < 16 || crate::decode::read_up_to(file, &mut fmt)? < 16 {
                    return Ok(false);
                }
                let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
                let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
                let align = u16::from_le_bytes([fmt[12], fmt[13]]);
                let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
                pcm16 = tag == 1 && bits == 16 && channels > 0 && align == 2 * channels;
            }
            b"data" => {
                let data_end = body + u64::from(len);
                return Ok(pcm16
                    && len > 0
                    && len != u32::MAX
                    && data_end <= file_len
                    && data_end <= riff_end);
            }
            _ => {}
        }
        pos = body + u64::from(len) + u64::from(len & 1);
    }
    Ok(false)
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Refuses a file whose header already says its transcode would exceed `max_bytes`,
/// before decoding any of it.
fn check_declared_length(
    path: &Path,
    stream: &DecodeStream,
    max_bytes: u64,
) -> Result<(), AudioError> {
    let info = stream.info();
    let Some(frames) = stream.declared_frames() else {
        return Ok(());
    };
    if frames.saturating_mul(2 * info.channels as u64) > max_bytes {
        return Err(AudioError::TooLong {
            path: path.to_path_buf(),
            seconds: frames / u64::from(info.sample_rate_hz.max(1)),
        });
    }
    Ok(())
}

/// Decodes the rest of `stream` into a 16-bit PCM WAV file in memory, block by block,
/// stopping with `TooLong` as soon as the samples would exceed `max_bytes`.
fn transcode_stream(
    path: &Path,
    stream: &mut DecodeStream,
    max_bytes: u64,
) -> Result<Vec<u8>, AudioError> {
    let info = stream.info().clone();
    let frame_bytes = 2 * info.channels as u64;
    let expected = stream
        .declared_frames()
        .map_or(0, |f| f.saturating_mul(frame_bytes).min(max_bytes));
    let mut wav = WavWriter::new(info.sample_rate_hz, info.channels, expected);
    let mut block = vec![Vec::new(); info.channels];
    while stream
        .next_block(&mut block)
        .map_err(|e| AudioError::from_decode(path, e))?
    {
        let frames = wav.frames() + block[0].len() as u64;
        if frames.saturating_mul(frame_bytes) > max_bytes {
            return Err(AudioError::TooLong {
                path: path.to_path_buf(),
                seconds: frames / u64::from(info.sample_rate_hz.max(1)),
            });
        }
        wav.push(&block);
    }
    Ok(wav.finish())
}

/// Builds a canonical 16-bit PCM WAV file in memory from planar f32 blocks.
struct WavWriter {
    bytes: Vec<u8>,
    rate: u32,
    channels: usize,
}

impl WavWriter {
    /// `expected_data`: sample bytes to reserve room for (0 when unknown).
    fn new(rate: u32, channels: usize, expected_data: u64) -> Self {
        let reserve = usize::try_from(expected_data).unwrap_or(0);
        let mut bytes = Vec::with_capacity(WAV_HEADER_LEN + reserve);
        // The header goes in last, once the length is known.
        bytes.resize(WAV_HEADER_LEN, 0);
        Self {
            bytes,
            rate,
            channels,
        }
    }

    fn frames(&self) -> u64 {
        ((self.bytes.len() - WAV_HEADER_LEN) / (2 * self.channels.max(1))) as u64
    }

    /// Appends one block (one `Vec` per channel, all the same length), interleaved.
    fn push(&mut self, block: &[Vec<f32>]) {
        let frames = block.first().map_or(0, Vec::len);
        self.bytes.reserve(frames * self.channels * 2);
        for i in 0..frames {
            for ch in block {
                self.bytes.extend_from_slice(&to_i16(ch[i]).to_le_bytes());
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let data_len = (self.bytes.len() - WAV_HEADER_LEN) as u32;
        let channels = self.channels as u16;
        let align = 2 * channels;
        let mut h = Vec::with_capacity(WAV_HEADER_LEN);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&(36 + data_len).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes()); // WAVE_FORMAT_PCM
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&self.rate.to_le_bytes());
        h.extend_from_slice(&(self.rate * u32::from(align)).to_le_bytes());
        h.extend_from_slice(&align.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len.to_le_bytes());
        self.bytes[..WAV_HEADER_LEN].copy_from_slice(&h);
        // A header that claimed far more than the file held left a large reservation.
        if self.bytes.capacity() > self.bytes.len() + self.bytes.len() / 8 {
            self.bytes.shrink_to_fit();
        }
        self.bytes
    }
}

/// A decoded sample in [-1, 1] as 16-bit PCM. Scaled by 32768, the inverse of the
/// decoder's own i16 → f32 conversion, so 16-bit and G.711 sources come back bit-exact.
fn to_i16(s: f32) -> i16 {
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// What identifies one version of a recording: a file rewritten in place (size or
/// mtime changed) is a new version and is transcoded again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: Option<SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> Result<Self, AudioError> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
                AudioError::Missing(path.to_path_buf())
            }
            _ => AudioError::unreadable(path, format!("cannot read file: {e}")),
        })?;
        if !meta.is_file() {
            return Err(AudioError::unreadable(path, "not a regular file"));
        }
        Ok(Self {
            len: meta.len(),
            mtime: meta.modified().ok(),
        })
    }
}

/// A recording's prepared form, as the cache holds it.
#[derive(Debug, Clone)]
enum Ready {
    /// Served from disk as it is.
    Pass { mime: &'static str },
    /// Transcoded WAV bytes.
    Wav(Arc<Vec<u8>>),
}

impl Ready {
    /// What the entry costs in the cache's budget.
    fn cost(&self, path: &Path) -> u64 {
        match self {
            Ready::Pass { .. } => PASS_ENTRY_COST + path.as_os_str().len() as u64,
            Ready::Wav(bytes) => bytes.len() as u64,
        }
    }
}

/// One file's prepared form; empty while the first request for it is preparing it
/// (later requests wait on the mutex instead of transcoding the file again).
type Slot = Arc<Mutex<Option<Ready>>>;

/// LRU of transcoded files keyed by (path, size, mtime), at most `cap_bytes` in all.
///
/// Also remembers which files pass through untranscoded, so the Range requests that
/// follow the first do not probe the file again. Shared between threads (`&self`
/// everywhere); the lock is held only for map bookkeeping, never while decoding.
pub struct TranscodeCache {
    cap_bytes: u64,
    max_transcode_bytes: u64,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<PathBuf, Entry>,
    /// Sum of the costs of the filled entries.
    total: u64,
    /// Use counter for the LRU order.
    tick: u64,
}

struct Entry {
    stamp: Stamp,
    slot: Slot,
    /// 0 until the slot is filled.
    cost: u64,
    last_used: u64,
}

impl TranscodeCache {
    /// A cache holding at most `cap_bytes` of transcodes. One transcode is capped at
    /// [`DEFAULT_MAX_TRANSCODE_BYTES`] or `cap_bytes`, whichever is smaller (one larger
    /// than the whole cache could not be kept, and would be redone on every request).
    pub fn new(cap_bytes: u64) -> Self {
        Self {
            cap_bytes,
            max_transcode_bytes: DEFAULT_MAX_TRANSCODE_BYTES,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// Sets the largest transcode (bytes of WAV samples); still capped by the cache's size.
    pub fn with_max_transcode_bytes(mut self, max_bytes: u64) -> Self {
        self.max_transcode_bytes = max_bytes;
        self
    }

    /// The largest transcode this cache allows, in bytes of WAV samples.
    pub fn max_transcode_bytes(&self) -> u64 {
        self.max_transcode_bytes
            .min(self.cap_bytes)
            .min(WAV_MAX_DATA_BYTES)
    }

    /// Bytes the cache holds now (transcodes and the small pass-through entries).
    pub fn cached_bytes(&self) -> u64 {
        self.lock().total
    }

    fn lock(&self) -> MutexGuard<'_, CacheInner> {
        // The bookkeeping under the lock does not panic; if it ever did, the map is
        // still consistent enough to use rather than take the server down with it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The prepared form of `path` at `stamp`: from the cache, or made by `prepare`
    /// (errors are not cached: the next request tries again).
    fn get_or_prepare(
        &self,
        path: &Path,
        stamp: Stamp,
        prepare: impl FnOnce() -> Result<Ready, AudioError>,
    ) -> Result<Ready, AudioError> {
        let slot = self.slot_for(path, stamp);
        let mut filled = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ready) = filled.as_ref() {
            return Ok(ready.clone());
        }
        let result = prepare();
        if let Ok(ready) = &result {
            *filled = Some(ready.clone());
        }
        // Lock order: slot, then map (`slot_for` takes the map alone), so no deadlock.
        drop(filled);
        self.settle(path, &slot, result.as_ref().ok());
        result
    }

    /// The slot for `path` at `stamp`, made (replacing one for an older version) if needed.
    fn slot_for(&self, path: &Path, stamp: Stamp) -> Slot {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(e) = inner.entries.get_mut(path)
            && e.stamp == stamp
        {
            e.last_used = tick;
            return e.slot.clone();
        }
        let slot = Slot::default();
        let entry = Entry {
            stamp,
            slot: slot.clone(),
            cost: 0,
            last_used: tick,
        };
        if let Some(old) = inner.entries.insert(path.to_path_buf(), entry) {
            inner.total -= old.cost;
        }
        slot
    }

    /// Books a finished preparation: counts a filled slot and evicts the least recently
    /// used others to stay within the cap; drops the entry of a failed one.
    fn settle(&self, path: &Path, slot: &Slot, ready: Option<&Ready>) {
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(path) else {
            return;
        };
        // Replaced meanwhile by a newer version of the file: that one is booked itself.
        if !Arc::ptr_eq(&entry.slot, slot) {
            return;
        }
        let Some(ready) = ready else {
            inner.entries.remove(path);
            return;
        };
        if entry.cost == 0 {
            entry.cost = ready.cost(path);
            inner.total += entry.cost;
        }
        while inner.total > self.cap_bytes {
            let victim = inner
                .entries
                .iter()
                .filter(|(p, e)| e.cost > 0 && p.as_path() != path)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(p, _)| p.clone());
            let Some(victim) = victim else { break };
            if let Some(old) = inner.entries.remove(&victim) {
                inner.total -= old.cost;
            }
        }
    }
}

/// A request's Range header against a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// No usable Range header: answer 200 with the whole body.
    Full,
    /// Answer 206 with bytes `start..=end` (`Content-Range: bytes start-end/len`).
    Partial { start: u64, end: u64 },
    /// Answer 416 (`Content-Range: bytes */len`).
    Unsatisfiable,
}

/// Parses a Range header (RFC 9110 §14) against a body of `len` bytes: one range
/// `bytes=a-b`, `bytes=a-` or `bytes=-n`, clamped to the body. Several ranges, another
/// unit, or anything malformed gets the whole body (a server may ignore Range); a start
/// at or past the end, or a zero-length suffix, is `Unsatisfiable`.
pub fn parse_range(header: Option<&str>, len: u64) -> RangeSpec {
    let Some(header) = header else {
        return RangeSpec::Full;
    };
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return RangeSpec::Full;
    };
    // Several ranges would need a multipart answer; the whole body serves them all.
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    if first.is_empty() {
        return match number(last) {
            None => RangeSpec::Full,
            Some(0) => RangeSpec::Unsatisfiable,
            // An empty body has no byte to point at; all of it is the answer.
            Some(_) if len == 0 => RangeSpec::Full,
            Some(n) => RangeSpec::Partial {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        };
    }
    let Some(start) = number(first) else {
        return RangeSpec::Full;
    };
    let end = match last {
        "" => None,
        _ => match number(last) {
            Some(end) if end >= start => Some(end),
            // `bytes=5-2` or garbage: not a valid range, so ignored.
            _ => return RangeSpec::Full,
        },
    };
    if start >= len {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Partial {
        start,
        end: end.map_or(len - 1, |e| e.min(len - 1)),
    }
}

/// A non-empty run of ASCII digits as a number (`str::parse` also takes a `+`).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;
    use crate::decode::tests::{ima_wav, write_temp};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/audio")
            .join(name)
    }

    fn tone(freq: f32, rate: u32, frames: usize, amplitude: f32) -> Vec<f32> {
        (0..frames)
            .map(|i| {
                let t = i as f32 / rate as f32;
                amplitude * (2.0 * std::f32::consts::PI * freq * t).sin()
            })
            .collect()
    }

    /// ITU-T G.711 µ-law encoder (as in tests/common).
    fn linear_to_mulaw(sample: i16) -> u8 {
        const BIAS: i32 = 0x84;
        const CLIP: i32 = 32635;
        let mut s = i32::from(sample);
        let sign = if s < 0 { 0x80 } else { 0 };
        s = s.abs().min(CLIP) + BIAS;
        let exponent = (0..8).rev().find(|e| s & (0x80 << e) != 0).unwrap_or(0);
        let mantissa = (s >> (exponent + 3)) & 0x0f;
        !(sign | (exponent << 4) | mantissa) as u8
    }

    /// ITU-T G.711 A-law encoder (the classic Sun g711.c).
    fn linear_to_alaw(sample: i16) -> u8 {
        let mut v = i32::from(sample) >> 3;
        let mask = if v >= 0 {
            0xd5
        } else {
            v = -v - 1;
            0x55
        };
        let seg_end = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
        let Some(seg) = seg_end.iter().position(|&e| v <= e) else {
            return (0x7f ^ mask) as u8;
        };
        let quant = (if seg < 2 { v >> 1 } else { v >> seg }) & 0x0f;
        (((seg as i32) << 4 | quant) ^ mask) as u8
    }

    /// A 16-bit sample to one G.711 byte.
    type Encoder = fn(i16) -> u8;

    /// A G.711 WAV (`tag` 6 A-law, 7 µ-law) of `channels`, with a `fmt_len`-byte fmt
    /// chunk (telephony systems write 16, the standard says 18).
    fn g711_wav(
        tag: u16,
        fmt_len: u32,
        rate: u32,
        channels: &[Vec<f32>],
        encode: Encoder,
    ) -> Vec<u8> {
        let n = channels[0].len();
        let data: Vec<u8> = (0..n)
            .flat_map(|i| channels.iter().map(move |c| c[i]))
            .map(|s| encode((s * 32767.0) as i16))
            .collect();
        let ch = channels.len() as u16;
        let mut b = b"RIFF".to_vec();
        b.extend_from_slice(&(4 + 8 + fmt_len + 8 + data.len() as u32).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&fmt_len.to_le_bytes());
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&ch.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(ch)).to_le_bytes());
        b.extend_from_slice(&ch.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        if fmt_len == 18 {
            b.extend_from_slice(&0u16.to_le_bytes());
        }
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&data);
        b
    }

    fn mulaw_mono(seconds: usize) -> Vec<u8> {
        let n = 8000 * seconds;
        g711_wav(7, 18, 8000, &[tone(440.0, 8000, n, 0.5)], linear_to_mulaw)
    }

    /// A transcode's WAV header, checked to be canonical 16-bit PCM, and its samples.
    struct Wav {
        channels: usize,
        rate: u32,
        samples: Vec<i16>,
    }

    impl Wav {
        fn frames(&self) -> usize {
            self.samples.len() / self.channels
        }
        fn sample(&self, frame: usize, ch: usize) -> i16 {
            self.samples[frame * self.channels + ch]
        }
    }

    fn parse_wav(b: &[u8]) -> Wav {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| le_u32(&b[i..i + 4]);
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(u32_at(4) as usize, b.len() - 8, "RIFF length");
        assert_eq!(&b[8..16], b"WAVEfmt ");
        assert_eq!(u32_at(16), 16, "fmt length");
        assert_eq!(u16_at(20), 1, "format tag: PCM");
        let (channels, rate, align) = (u16_at(22), u32_at(24), u16_at(32));
        assert_eq!(u16_at(34), 16, "bits per sample");
        assert_eq!(align, 2 * channels, "block align");
        assert_eq!(u32_at(28), rate * u32::from(align), "byte rate");
        assert_eq!(&b[36..40], b"data");
        assert_eq!(u32_at(40) as usize, b.len() - 44, "data length");
        let samples = b[44..]
            .chunks_exact(2)
            .map(|s| i16::from_le_bytes([s[0], s[1]]))
            .collect();
        Wav {
            channels: channels.into(),
            rate,
            samples,
        }
    }

    fn memory(body: AudioBody) -> Arc<Vec<u8>> {
        match body {
            AudioBody::Memory { bytes, mime } => {
                assert_eq!(mime, "audio/wav");
                bytes
            }
            other => panic!("expected a transcode, got {other:?}"),
        }
    }

    /// Every sample of `wav` within one step of what the decoder makes of `path`.
    fn assert_matches_decoder(wav: &Wav, path: &Path) {
        let decoded = decode::decode_file(path).unwrap();
        assert_eq!(wav.channels, decoded.channels.len());
        assert_eq!(wav.rate, decoded.sample_rate_hz);
        assert_eq!(wav.frames(), decoded.frames());
        for (c, ch) in decoded.channels.iter().enumerate() {
            for (i, &s) in ch.iter().enumerate() {
                let want = (s * 32768.0).clamp(-32768.0, 32767.0);
                let got = f32::from(wav.sample(i, c));
                assert!(
                    (got - want).abs() <= 1.0,
                    "ch {c} frame {i}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn parse_range_takes_each_single_range_form() {
        use RangeSpec::*;
        let p = |h: &str| parse_range(Some(h), 1000);
        assert_eq!(parse_range(None, 1000), Full);
        assert_eq!(p("bytes=0-499"), Partial { start: 0, end: 499 });
        assert_eq!(
            p("bytes=500-"),
            Partial {
                start: 500,
                end: 999
            }
        );
        assert_eq!(
            p("bytes=-200"),
            Partial {
                start: 800,
                end: 999
            }
        );
        assert_eq!(p("bytes=0-0"), Partial { start: 0, end: 0 });
        assert_eq!(
            p("bytes=999-"),
            Partial {
                start: 999,
                end: 999
            }
        );
        assert_eq!(p("Bytes=10-20"), Partial { start: 10, end: 20 });
        assert_eq!(p(" bytes=10-20 "), Partial { start: 10, end: 20 });
        // Past the end: clamped; a suffix longer than the body is all of it.
        assert_eq!(
            p("bytes=900-5000"),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(p("bytes=-5000"), Partial { start: 0, end: 999 });
        // Starting at or past the end, or an empty suffix: nothing to send.
        assert_eq!(p("bytes=1000-"), Unsatisfiable);
        assert_eq!(p("bytes=1000-2000"), Unsatisfiable);
        assert_eq!(p("bytes=-0"), Unsatisfiable);
    }

    #[test]
    fn parse_range_serves_everything_for_several_ranges_and_garbage() {
        for h in [
            "bytes=0-1,5-6",
            "bytes=0-1, 5-6",
            "bytes=-5,0-1",
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=5-2",
            "bytes=+1-2",
            "bytes=1-2-3",
            "bytes=99999999999999999999999-",
            "items=0-1",
        ] {
            assert_eq!(parse_range(Some(h), 1000), RangeSpec::Full, "{h:?}");
        }
    }

    #[test]
    fn parse_range_on_an_empty_body() {
        assert_eq!(parse_range(None, 0), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=0-"), 0), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-5"), 0), RangeSpec::Full);
    }

    #[test]
    fn mulaw_and_alaw_wav_become_pcm16_wav_with_the_same_audio() {
        let (rate, n) = (8000, 4000);
        let left = tone(440.0, rate, n, 0.5);
        let right = tone(1000.0, rate, n, 0.3);
        let encoders: [(u16, u32, Encoder); 2] =
            [(7, 18, linear_to_mulaw), (6, 16, linear_to_alaw)];
        for (tag, fmt_len, encode) in encoders {
            let src = [left.clone(), right.clone()];
            let f = write_temp(&g711_wav(tag, fmt_len, rate, &src, encode), ".wav");
            let cache = TranscodeCache::new(1 << 20);
            let bytes = memory(open_for_browser(f.path(), &cache).unwrap());
            let wav = parse_wav(&bytes);
            assert_eq!(
                (wav.channels, wav.rate, wav.frames()),
                (2, rate, n),
                "tag {tag}"
            );
            for (c, ch) in src.iter().enumerate() {
                // G.711 steps are 1/32 of full scale at most at these levels.
                let worst = (0..n)
                    .map(|i| (f32::from(wav.sample(i, c)) / 32768.0 - ch[i]).abs())
                    .fold(0.0, f32::max);
                assert!(worst < 0.02, "tag {tag} channel {c}: off by {worst}");
            }
            assert_matches_decoder(&wav, f.path());
        }
    }

    #[test]
    fn ima_adpcm_wav_becomes_pcm16_wav_with_the_decoders_audio() {
        let frames = 10 * 505 - 100;
        let f = ima_wav(10, frames as u32);
        let cache = TranscodeCache::new(1 << 20);
        let wav = parse_wav(&memory(open_for_browser(f.path(), &cache).unwrap()));
        assert_eq!((wav.channels, wav.rate, wav.frames()), (1, 8000, frames));
        assert_matches_decoder(&wav, f.path());
        // A real encoder's file, at 22.05 kHz.
        let path = fixture("wav_ima_adpcm_22k_mono.wav");
        let wav = parse_wav(&memory(open_for_browser(&path, &cache).unwrap()));
        assert_eq!(wav.rate, 22050);
        assert_matches_decoder(&wav, &path);
    }

    #[test]
    fn pcm16_wav_with_unknown_lengths_is_transcoded_bit_exact() {
        // A streaming writer's header: both lengths 0xFFFFFFFF.
        let samples: Vec<i16> = (0..3000).map(|i| (i as i16).wrapping_mul(37)).collect();
        let mut b = b"RIFF".to_vec();
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        for v in [16u32, 1 | (1 << 16), 8000, 16000, 2 | (16 << 16)] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(b"data");
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        let f = write_temp(&b, ".wav");
        let cache = TranscodeCache::new(1 << 20);
        let wav = parse_wav(&memory(open_for_browser(f.path(), &cache).unwrap()));
        assert_eq!((wav.channels, wav.rate), (1, 8000));
        assert!(wav.samples == samples, "samples changed in the transcode");
    }

    #[test]
    fn playable_formats_pass_through_and_the_rest_is_transcoded() {
        let cache = TranscodeCache::new(8 << 20);
        for (name, want) in [
            ("wav_s16_8k_stereo.wav", Some("audio/wav")),
            ("wav_s16_16k_mono_speech.wav", Some("audio/wav")),
            ("mp3_44k_stereo.mp3", Some("audio/mpeg")),
            ("mp3_32k_mono.mp3", Some("audio/mpeg")),
            ("flac_44k_mono.flac", Some("audio/flac")),
            ("vorbis_22k_mono.ogg", Some("audio/ogg")),
            ("aac_48k_stereo.m4a", Some("audio/mp4")),
            ("wav_mulaw_8k_stereo.wav", None),
            ("wav_alaw_8k_mono.wav", None),
            ("wav_ima_adpcm_22k_mono.wav", None),
            ("wav_u8_11k_mono.wav", None),
            ("wav_s24_8k_mono.wav", None),
            ("wav_s32_8k_mono.wav", None),
            ("wav_f32_8k_mono.wav", None),
            ("wav_extensible_s24_8k_stereo.wav", None),
            // 16-bit, but WAVE_FORMAT_EXTENSIBLE.
            ("wav_s16_8k_3ch.wav", None),
            // 16-bit, but the header claims more data than the file holds.
            ("truncated_mid.wav", None),
        ] {
            let path = fixture(name);
            let body = open_for_browser(&path, &cache).unwrap();
            match (want, &body) {
                (Some(mime), AudioBody::File { path: p, len, .. }) => {
                    assert_eq!(body.mime(), mime, "{name}");
                    assert_eq!(p, &path);
                    assert_eq!(*len, std::fs::metadata(&path).unwrap().len(), "{name}");
                }
                (None, AudioBody::Memory { bytes, .. }) => {
                    let wav = parse_wav(bytes);
                    let (_, rate, channels) = decode::probe_info(&path).unwrap();
                    assert_eq!((wav.rate, wav.channels), (rate, channels), "{name}");
                }
                _ => panic!("{name}: expected {want:?}, got {body:?}"),
            }
        }
    }

    #[test]
    fn ogg_opus_waits_for_the_decoder() {
        // symphonia has no Opus decoder, so callsift never transcribes these and no
        // search hit points at one; the pass-through table has them for when it does.
        assert_eq!(browser_mime("opus", Container::Ogg), Some("audio/ogg"));
        let cache = TranscodeCache::new(1 << 20);
        let err = open_for_browser(&fixture("opus_48k.opus"), &cache).unwrap_err();
        assert!(
            matches!(&err, AudioError::Unreadable { reason, .. } if reason.contains("opus")),
            "{err:?}"
        );
    }

    #[test]
    fn read_range_returns_exactly_the_bytes_asked() {
        let path = fixture("wav_s16_8k_stereo.wav");
        let cache = TranscodeCache::new(1 << 20);
        let file_body = open_for_browser(&path, &cache).unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        let f = write_temp(&mulaw_mono(1), ".wav");
        let mem_body = open_for_browser(f.path(), &cache).unwrap();
        let in_memory = memory(mem_body.clone());
        for (body, all) in [
            (&file_body, on_disk.as_slice()),
            (&mem_body, &in_memory[..]),
        ] {
            let len = body.len();
            assert_eq!(len, all.len() as u64);
            for (a, b) in [
                (0, 0),
                (0, 43),
                (100, 1099),
                (len - 1, len - 1),
                (0, len - 1),
            ] {
                let got = body.read_range(a, b).unwrap();
                assert!(got == all[a as usize..=b as usize], "bytes {a}-{b}");
            }
            for (a, b) in [(0, len), (len, len), (5, 4)] {
                let err = body.read_range(a, b).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "bytes {a}-{b}");
            }
        }
    }

    #[test]
    fn a_missing_recording_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TranscodeCache::new(1 << 20);
        let gone = dir.path().join("gone.wav");
        let err = open_for_browser(&gone, &cache).unwrap_err();
        assert!(
            matches!(&err, AudioError::Missing(p) if p == &gone),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "recording {} is no longer there (purged or moved)",
                gone.display()
            )
        );
        // A folder on the way that is now a file.
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let under = file.join("call.wav");
        let err = open_for_browser(&under, &cache).unwrap_err();
        assert!(matches!(err, AudioError::Missing(_)), "{err:?}");
    }

    #[test]
    fn a_text_file_named_wav_is_unreadable() {
        let f = write_temp(b"Call notes: customer asked about the invoice.\n", ".wav");
        let cache = TranscodeCache::new(1 << 20);
        let err = open_for_browser(f.path(), &cache).unwrap_err();
        let AudioError::Unreadable { path, reason } = &err else {
            panic!("expected Unreadable, got {err:?}");
        };
        assert_eq!(path, f.path());
        assert_eq!(reason, decode::NOT_AUDIO);
        assert_eq!(
            err.to_string(),
            format!(
                "recording {} cannot be played: {}",
                f.path().display(),
                decode::NOT_AUDIO
            )
        );
        assert_eq!(cache.cached_bytes(), 0, "a failure was cached");
        let dir = tempfile::tempdir().unwrap();
        let err = open_for_browser(dir.path(), &cache).unwrap_err();
        assert!(matches!(err, AudioError::Unreadable { .. }), "{err:?}");
    }

    #[test]
    fn the_cache_returns_the_same_transcode_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("call.wav");
        std::fs::write(&path, mulaw_mono(1)).unwrap();
        let cache = TranscodeCache::new(1 << 20);
        let first = memory(open_for_browser(&path, &cache).unwrap());
        let again = memory(open_for_browser(&path, &cache).unwrap());
        assert!(Arc::ptr_eq(&first, &again), "transcoded twice");
        assert_eq!(cache.cached_bytes(), first.len() as u64);

        // Rewritten with another size.
        std::fs::write(&path, mulaw_mono(2)).unwrap();
        let longer = memory(open_for_browser(&path, &cache).unwrap());
        assert_eq!(parse_wav(&longer).frames(), 16_000);
        assert_eq!(
            cache.cached_bytes(),
            longer.len() as u64,
            "old version kept"
        );

        // Same size, other content, only the mtime tells.
        let mut quiet = mulaw_mono(2);
        let data_start = quiet.len() - 16_000;
        quiet[data_start..].fill(0xff); // µ-law silence
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&quiet).unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(10))
            .unwrap();
        drop(f);
        let silent = memory(open_for_browser(&path, &cache).unwrap());
        assert!(!Arc::ptr_eq(&silent, &longer));
        assert!(parse_wav(&silent).samples.iter().all(|&s| s == 0));
    }

    #[test]
    fn the_least_recently_used_transcode_is_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = ["a", "b", "c"]
            .iter()
            .map(|n| {
                let p = dir.path().join(format!("{n}.wav"));
                std::fs::write(&p, mulaw_mono(1)).unwrap();
                p
            })
            .collect();
        let one = 44 + 16_000;
        let cache = TranscodeCache::new(2 * one + 100);
        let open = |i: usize| memory(open_for_browser(&paths[i], &cache).unwrap());
        let a = open(0);
        let b = open(1);
        assert!(Arc::ptr_eq(&a, &open(0)), "a was not kept");
        let _c = open(2);
        assert!(cache.cached_bytes() <= 2 * one + 100);
        assert!(Arc::ptr_eq(&a, &open(0)), "a, used last, was evicted");
        assert!(
            !Arc::ptr_eq(&b, &open(1)),
            "b, used least recently, was kept"
        );
    }

    #[test]
    fn concurrent_requests_share_one_transcode() {
        let f = write_temp(&mulaw_mono(3), ".wav");
        let cache = TranscodeCache::new(1 << 20);
        let bodies: Vec<Arc<Vec<u8>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| memory(open_for_browser(f.path(), &cache).unwrap())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(bodies.iter().all(|b| Arc::ptr_eq(b, &bodies[0])));
        fn shared<T: Send + Sync>() {}
        shared::<TranscodeCache>();
    }

    #[test]
    fn a_transcode_over_the_cap_is_too_long() {
        // 3 s of 8 kHz mono: 48 000 bytes of samples.
        let f = write_temp(&mulaw_mono(3), ".wav");
        let fits = TranscodeCache::new(1 << 20).with_max_transcode_bytes(48_000);
        assert!(
            open_for_browser(f.path(), &fits).is_ok(),
            "the exact size fits"
        );
        // The header tells the length: refused before decoding.
        let tiny = TranscodeCache::new(1 << 20).with_max_transcode_bytes(47_999);
        let err = open_for_browser(f.path(), &tiny).unwrap_err();
        assert!(
            matches!(err, AudioError::TooLong { seconds: 3, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "recording {} is too long to transcode for playback (3 s or more)",
                f.path().display()
            )
        );
        // The cache's own size caps a transcode too.
        let small = TranscodeCache::new(47_999);
        assert!(matches!(
            open_for_browser(f.path(), &small),
            Err(AudioError::TooLong { .. })
        ));
        // Without a length in the header: decoding stops once the cap is passed.
        let mut stream = DecodeStream::open(f.path()).unwrap();
        let err = transcode_stream(f.path(), &mut stream, 32_000).unwrap_err();
        assert!(
            matches!(err, AudioError::TooLong { seconds: 2, .. }),
            "{err:?}"
        );
    }
}
