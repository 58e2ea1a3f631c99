//! Decoding recordings to planar f32 samples. The only module that names symphonia.
//!
//! [`DecodeStream`] decodes one file as a stream: [`DecodeStream::open`] probes it and
//! decodes up to the first audio (so [`AudioInfo`] is the decoder's own rate and channel
//! count, not just the header's), [`DecodeStream::next_block`] hands out the audio in
//! blocks of at most a second, every channel kept, samples in `[-1, 1]` at the file's own
//! rate, and [`DecodeStream::finish`] says how it ended. Only a few blocks are ever held,
//! however long the recording. [`decode_file`] is the same stream collected into one
//! [`DecodedAudio`], for callers that want the whole recording.
//!
//! The file's BLAKE3 hash (the content hash that makes the call id) is computed from the
//! bytes as the decoder reads them, so a recording is read from disk once: the reader
//! under symphonia feeds every byte that extends the hashed prefix of the file to the
//! hasher. Readers that skip around (MP4 with its index at the end, large chunks skipped
//! by seeking) leave a gap; a small forward gap is read through at once, and whatever is
//! still unhashed at the end (a gap, or the tail the decoder never needed) is read by
//! `finish`. [`DecodeEnd::bytes_read`] counts what all of that cost.
//!
//! Call recordings come from many systems and are often damaged, so this module is mostly
//! about failing well:
//!
//! * A file that cannot be used gives `Error::Decode { path, reason }` with one of a few
//!   reasons: `empty file`, `not a recognised audio file`, `unsupported codec: …`,
//!   `truncated: no audio before the file ends`, `no decodable audio: …`. Most come from
//!   `open`; one (`not a recognised audio file`, for bytes that only looked like audio
//!   here and there) is only known at the end and comes from the last `next_block`.
//! * A file that breaks off mid-stream is not an error: the audio up to the break is
//!   handed out and [`DecodeEnd::truncated`] says `truncated after 1.53 s: <reason>`.
//! * Corrupt packets in the middle are skipped and counted ([`DecodeStats`]); where packet
//!   timestamps show that audio went missing, silence takes its place so that everything
//!   after a damaged stretch stays at its true time on the recording.
//! * symphonia has panicked on hostile input before, so opening and every block run
//!   under `catch_unwind` and a panic becomes an ordinary decode error; the stream is
//!   then unusable (every later block repeats the error) but `finish` still hashes.
//!
//! WAV gets extra care because it is what telephony systems write, and they write it
//! badly: recorders that crash leave a header promising more data than the file holds,
//! streaming writers put `0xFFFFFFFF` in the length fields, and some write G.711 `fmt `
//! chunks without the `cbSize` field that symphonia insists on. The `wav` submodule reads
//! just the header, and where it needs fixing presents symphonia with a corrected header
//! spliced in front of the untouched sample data (nothing is copied into memory). It also
//! names WAV codecs symphonia lacks (`unsupported codec: gsm 6.10 (format tag 0x0031)`).
//!
//! Known limitation: symphonia ignores MP4 edit lists, so AAC in `.m4a` keeps the
//! encoder's priming frames (typically 1024, ~21 ms at 48 kHz) at the start.

use std::any::Any;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::audio::well_known as codec_ids;
use symphonia::core::codecs::audio::{
    AudioCodecId, AudioCodecParameters, AudioDecoder, AudioDecoderOptions, CODEC_ID_NULL_AUDIO,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::TimeBase;

use crate::error::{Error, Result};
use crate::model::DecodedAudio;

/// File extensions the walker hands to the decoder; anything else is skipped.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "mp3", "flac", "ogg", "oga", "m4a", "mp4", "aac", "opus", "gsm", "au", "aif",
    "aiff", "caf", "mka", "webm",
];

/// Reason given for a file with a recognisable header but no audio after it.
pub const TRUNCATED_NO_AUDIO: &str = "truncated: no audio before the file ends";
/// Reason given for a file that is not audio at all.
pub const NOT_AUDIO: &str = "not a recognised audio file";
/// Reason given for a zero-byte file.
pub const EMPTY_FILE: &str = "empty file";
/// Reason given for a file listed for the run but gone when it was opened
/// (deleted or moved by the recorder or a cleanup job meanwhile).
pub const VANISHED: &str = "vanished before it was read: no such file";

/// How many demuxer errors in a row end the decode. Readers resynchronise after an error,
/// but one that cannot make progress would otherwise loop forever.
const MAX_CONSECUTIVE_DEMUX_ERRORS: usize = 64;

/// Longest silence inserted for one timestamp jump. Longer jumps are not a lost packet
/// but a broken or discontinuous timeline, and filling them would be inventing audio.
const MAX_GAP_SECONDS: f64 = 60.0;

/// A block is handed out once this much audio (a quarter second) is decoded: a few
/// packets for most codecs, so callers do not pay per-call overhead on 20 ms packets.
const BLOCK_TARGET_DIVISOR: usize = 4;
/// No block is longer than a second (`rate` frames): long FLAC frames and inserted
/// silence are cut to size, so what a caller holds per block stays small.
const BLOCK_MAX_SECONDS: usize = 1;

/// Upper bound on the frames [`decode_file`] reserves up front from a header's length
/// claim, so a hostile header cannot make us allocate gigabytes before a sample is decoded.
const MAX_RESERVE_FRAMES: u64 = 1 << 24;
/// Frames per byte of file no real recording exceeds (8 kbit/s MP3 at 8 kHz is 8; HE-AAC
/// a few tens); caps the reservation for small files with absurd length claims.
const MAX_FRAMES_PER_BYTE: u64 = 64;

/// A reader that skipped some unhashed bytes and then read on for [`FILL_AFTER_BYTES`]
/// without coming back (a WAV reader past a large metadata chunk) has the gap read for
/// the hash there and then, so the rest of the file is still hashed as it is read; see
/// `Hashing::worth_filling` for which gaps. Gaps up to this size always are.
const GAP_FILL_MAX_BYTES: u64 = 256 * 1024;
/// How far a reader must read on past a skip before the gap is filled: more than a
/// look at the end of the file (symphonia's probe reads the last 160 bytes for tags,
/// then goes back to the start), which would otherwise read a small file twice.
const FILL_AFTER_BYTES: u64 = 64 * 1024;

/// True when `path` has one of [`AUDIO_EXTENSIONS`] (case-insensitive).
pub fn is_audio_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| a.eq_ignore_ascii_case(e)))
}

/// Things worth knowing about a successful decode that are not errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Packets that decoded to audio.
    pub packets: usize,
    /// Packets (or demuxer reads) that were corrupt and skipped.
    pub corrupt_packets: usize,
    /// Frames of silence put in place of audio that was lost (corrupt packets, or a jump
    /// in the packet timestamps where the demuxer skipped damaged data), so that the
    /// audio after a damaged stretch stays at its true time.
    pub gap_frames: usize,
}

/// What a stream holds, as decoded (the decoder's rate wins over the header's: HE-AAC
/// headers give half the real rate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    /// Codec name as written into the transcript (`pcm_s16le`, `pcm_mulaw`, `mp3`, …).
    pub codec: String,
    pub sample_rate_hz: u32,
    /// Channel count; every block has this many channels.
    pub channels: usize,
}

/// How a stream ended, from [`DecodeStream::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeEnd {
    /// BLAKE3 of the file's bytes, the same as `pipeline::content_hash(path)`.
    pub hash: blake3::Hash,
    /// Frames handed out, per channel (inserted silence included).
    pub frames: u64,
    /// Set when the file broke off mid-stream and only the audio before the break was
    /// decoded (`truncated after 1.53 s: <reason>`); the same text as
    /// [`DecodedAudio::truncated`].
    pub truncated: Option<String>,
    /// Corrupt packets skipped and silence inserted.
    pub stats: DecodeStats,
    /// Bytes read from the file, by the decoder and for the hash together: the file's
    /// length plus a few header bytes in the common case.
    pub bytes_read: u64,
}

/// One file being decoded block by block; see the module documentation.
pub struct DecodeStream {
    path: PathBuf,
    info: AudioInfo,
    decoding: Decoding,
    file: HashedFile,
    /// Set after a decoder panic: the reason every later block repeats.
    crashed: Option<String>,
}

impl DecodeStream {
    /// Opens and probes `path` and decodes up to its first audio. Errors are
    /// `Error::Decode { path, reason }`, the same as [`decode_file`] gives.
    pub fn open(path: &Path) -> Result<Self> {
        guarded(path, || Self::open_inner(path, true))
    }

    fn open_inner(path: &Path, hash: bool) -> Result<Self> {
        let opened = open(path, hash)?;
        let file = opened.file.clone();
        let (decoding, info) = Decoding::start(path, opened)?;
        Ok(Self {
            path: path.to_path_buf(),
            info,
            decoding,
            file,
            crashed: None,
        })
    }

    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// Frames per channel the container header declares (WAV data length, FLAC
    /// STREAMINFO, …), when it does: a claim to size things by before decoding (a
    /// damaged file can hold less), not a count of what [`next_block`](Self::next_block)
    /// will hand out.
    pub fn declared_frames(&self) -> Option<u64> {
        self.decoding.num_frames
    }

    /// Clears `out` (one `Vec` per channel, [`AudioInfo::channels`] of them) and fills it
    /// with the next block: planar samples at the source rate, at most a second of them.
    /// Returns false, with `out` empty, at the end of the stream.
    pub fn next_block(&mut self, out: &mut [Vec<f32>]) -> Result<bool> {
        for ch in out.iter_mut() {
            ch.clear();
        }
        if let Some(reason) = &self.crashed {
            return Err(Error::decode(&self.path, reason.clone()));
        }
        if out.len() != self.info.channels {
            return Err(Error::decode(
                &self.path,
                format!(
                    "a block of {} channels was asked of a {}-channel stream",
                    out.len(),
                    self.info.channels
                ),
            ));
        }
        let (decoding, path) = (&mut self.decoding, self.path.as_path());
        match panic::catch_unwind(AssertUnwindSafe(|| decoding.next_block(path, out))) {
            Ok(result) => result,
            Err(payload) => {
                let reason = crash_reason(payload.as_ref());
                self.crashed = Some(reason.clone());
                for ch in out.iter_mut() {
                    ch.clear();
                }
                Err(Error::decode(&self.path, reason))
            }
        }
    }

    /// Ends the stream: hashes what the decoder did not read and says how decoding ended.
    ///
    /// Meant for after [`next_block`](Self::next_block) returned false; called earlier,
    /// `frames` counts what was handed out and `truncated` is `None`. An I/O error while
    /// reading the rest of the file is a decode error naming it.
    pub fn finish(self) -> Result<DecodeEnd> {
        let DecodeStream {
            path,
            decoding,
            file,
            ..
        } = self;
        let summary = decoding.summary();
        warn_about_damage(&path, &summary.stats);
        let (hash, bytes_read) = file
            .finish()
            .map_err(|e| Error::decode(&path, format!("cannot read file: {e}")))?;
        Ok(DecodeEnd {
            hash,
            frames: summary.frames,
            truncated: summary.truncated,
            stats: summary.stats,
            bytes_read,
        })
    }
}

/// Decodes a whole file. Errors are `Error::Decode { path, reason }`.
pub fn decode_file(path: &Path) -> Result<DecodedAudio> {
    decode_file_with_stats(path).map(|(audio, _)| audio)
}

/// [`decode_file`], also returning how many corrupt packets were skipped.
///
/// The same [`DecodeStream`], collected; it does not hash (callers that want the hash
/// use the stream).
pub fn decode_file_with_stats(path: &Path) -> Result<(DecodedAudio, DecodeStats)> {
    let mut stream = guarded(path, || DecodeStream::open_inner(path, false))?;
    let reserve = stream.decoding.reserve_frames();
    let mut channels: Vec<Vec<f32>> = (0..stream.info.channels)
        .map(|_| Vec::with_capacity(reserve))
        .collect();
    let mut block = vec![Vec::new(); stream.info.channels];
    while stream.next_block(&mut block)? {
        for (ch, b) in channels.iter_mut().zip(&block) {
            ch.extend_from_slice(b);
        }
    }
    // Drop the unused part of an over-generous reservation (a header that claimed more
    // than the file held).
    for ch in &mut channels {
        if ch.capacity() > ch.len() + ch.len() / 8 {
            ch.shrink_to_fit();
        }
    }
    let DecodeStream {
        path,
        info,
        decoding,
        ..
    } = stream;
    let summary = decoding.summary();
    warn_about_damage(&path, &summary.stats);
    Ok((
        DecodedAudio {
            codec: info.codec,
            sample_rate_hz: info.sample_rate_hz,
            channels,
            truncated: summary.truncated,
        },
        summary.stats,
    ))
}

fn warn_about_damage(path: &Path, stats: &DecodeStats) {
    if stats.corrupt_packets > 0 || stats.gap_frames > 0 {
        tracing::warn!(
            path = %path.display(),
            corrupt = stats.corrupt_packets,
            decoded = stats.packets,
            silence_frames = stats.gap_frames,
            "skipped corrupt audio while decoding"
        );
    }
}

/// Codec name, sample rate and channel count of a file without decoding all of it.
///
/// Reads the container header; only when the header leaves the rate or channel count open
/// (some AAC and MP3 streams) are packets decoded until the first audio comes out.
pub fn probe_info(path: &Path) -> Result<(String, u32, usize)> {
    guarded(path, || probe_inner(path))
}

/// Runs `f`, turning a panic inside symphonia into a decode error for `path`.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|payload| Err(Error::decode(path, crash_reason(payload.as_ref()))))
}

fn crash_reason(payload: &(dyn Any + Send)) -> String {
    format!("decoder crashed: {}", panic_message(payload))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// An opened, probed file with its audio track chosen.
struct Opened {
    format: Box<dyn FormatReader>,
    track_id: u32,
    params: AudioCodecParameters,
    num_frames: Option<u64>,
    time_base: Option<TimeBase>,
    file_len: u64,
    /// Set when the WAV header promised more data than the file holds.
    wav_truncation: Option<String>,
    /// For ADPCM WAV: the true frame count from the `fact` chunk (the last block is padded).
    wav_fact_frames: Option<u64>,
    /// Whether the first bytes are a known container or stream signature. Used to tell
    /// "not audio at all" from "audio that is damaged" when symphonia fails.
    known_magic: bool,
    /// The file under symphonia, hashing as it is read.
    file: HashedFile,
}

/// `hash`: whether to hash the bytes read (off for [`decode_file`], which has no use for it).
fn open(path: &Path, hash: bool) -> Result<Opened> {
    let io_err = |e: io::Error| Error::decode(path, format!("cannot read file: {e}"));
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::decode(path, VANISHED),
        _ => io_err(e),
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Error::decode(path, "a folder, not a recording"));
    }
    let meta = file.metadata().map_err(io_err)?;
    let file_len = meta.len();
    if file_len == 0 {
        return Err(Error::decode(path, EMPTY_FILE));
    }
    let mut file = HashedFile::new(file, file_len, meta.is_file(), hash);

    let mut head = [0u8; 16];
    let head_len = read_up_to(&mut file, &mut head).map_err(io_err)?;
    let head = &head[..head_len];
    let known_magic = has_known_magic(head);

    let mut wav_truncation = None;
    let mut wav_fact_frames = None;
    let source: Box<dyn MediaSource> = if wav::is_riff_wave(head) {
        let (plan, fact_frames) = wav::plan(&mut file, file_len).map_err(io_err)?;
        wav_fact_frames = fact_frames;
        match plan {
            wav::Plan::AsIs => {
                file.seek(SeekFrom::Start(0)).map_err(io_err)?;
                Box::new(file.clone())
            }
            wav::Plan::Unsupported(reason) => return Err(Error::decode(path, reason)),
            wav::Plan::Splice { pieces, truncation } => {
                wav_truncation = truncation;
                Box::new(SplicedSource::new(file.clone(), pieces))
            }
        }
    } else {
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        Box::new(file.clone())
    };

    let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(&ext.to_ascii_lowercase());
    }
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| Error::decode(path, open_error_reason(&e, known_magic)))?;

    let track = format
        .default_track(TrackType::Audio)
        .or_else(|| format.first_track(TrackType::Audio))
        .ok_or_else(|| Error::decode(path, "no audio track"))?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .cloned()
        .ok_or_else(|| Error::decode(path, "no audio track"))?;
    let track_id = track.id;
    let num_frames = track.num_frames;
    let time_base = track.time_base;

    Ok(Opened {
        format,
        track_id,
        params,
        num_frames,
        time_base,
        file_len,
        wav_truncation,
        wav_fact_frames,
        known_magic,
        file,
    })
}

/// Most channels a recording may have: multi-party PBX recordings have a
/// handful; a header claiming thousands is corrupt, and each channel costs a
/// VAD, a resampler and whisper passes.
pub const MAX_CHANNELS: usize = 64;
/// Highest sample rate accepted (studio audio tops out at 384 kHz).
pub const MAX_SAMPLE_RATE_HZ: u32 = 384_000;

/// Why a channel count or sample rate cannot be a recording's, if it cannot.
fn implausible(channels: usize, rate: u32) -> Option<String> {
    if channels == 0 || channels > MAX_CHANNELS {
        Some(format!(
            "implausible header: {channels} channels (1 to {MAX_CHANNELS} accepted)"
        ))
    } else if rate == 0 || rate > MAX_SAMPLE_RATE_HZ {
        Some(format!(
            "implausible header: sample rate {rate} Hz (1 Hz to {} kHz accepted)",
            MAX_SAMPLE_RATE_HZ / 1000
        ))
    } else {
        None
    }
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// True when the file starts like a container or elementary stream symphonia can read.
/// symphonia itself scans up to 1 MB for a marker, which is right for an MP3 behind junk
/// but also finds "MP3 frames" in random bytes; this lets us name those files correctly.
fn has_known_magic(head: &[u8]) -> bool {
    let starts = |m: &[u8]| head.starts_with(m);
    starts(b"RIFF")
        || starts(b"fLaC")
        || starts(b"OggS")
        || starts(b"ID3")
        || starts(b"FORM")
        || starts(b"caff")
        || starts(&[0x1a, 0x45, 0xdf, 0xa3])
        || head.get(4..8) == Some(b"ftyp")
        // MPEG audio / ADTS frame sync: 11 set bits.
        || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0)
}

/// The reason for a failure while probing the container or reading its header.
fn open_error_reason(err: &SymError, known_magic: bool) -> String {
    match err {
        SymError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            TRUNCATED_NO_AUDIO.to_owned()
        }
        SymError::IoError(e) => format!("cannot read file: {e}"),
        // The probe scanned the file and found no container it knows.
        SymError::Unsupported(msg) if msg.contains("no suitable format reader") => {
            NOT_AUDIO.to_owned()
        }
        _ if !known_magic => NOT_AUDIO.to_owned(),
        // MP4 writers put the index (moov) at the end; a recording cut short has none.
        SymError::Unsupported(msg)
            if msg.contains("missing moov") || msg.contains("missing ftyp") =>
        {
            TRUNCATED_NO_AUDIO.to_owned()
        }
        SymError::Unsupported(msg) => format!("unsupported format: {msg}"),
        SymError::DecodeError(msg) => format!("corrupt header: {msg}"),
        SymError::LimitError(msg) => format!("header exceeds a limit: {msg}"),
        other => format!("cannot read header: {other}"),
    }
}

/// The demuxer and decoder of a [`DecodeStream`], what they have decoded but not yet
/// handed out, and what the verdict at the end needs.
struct Decoding {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    time_base: Option<TimeBase>,
    num_frames: Option<u64>,
    file_len: u64,
    wav_truncation: Option<String>,
    known_magic: bool,
    /// ADPCM WAV pads its last block; `fact` has the true length. Frames past it are held
    /// back until the stream either ends (they are padding, dropped) or runs on a whole
    /// block further (the `fact` chunk was stale, and they are audio).
    fact_limit: Option<usize>,
    /// Frames per ADPCM block (1 for other codecs).
    block_frames: usize,
    stats: DecodeStats,
    /// Why decoding stopped before the stream's natural end, if it did.
    stopped: Option<String>,
    consecutive_demux_errors: usize,
    last_error: Option<String>,
    /// Timestamp of the track's first packet: later timestamps, relative to it, say where
    /// each packet's audio belongs.
    origin: Option<i64>,
    unsupported: Option<&'static str>,
    /// No more packets will be read (the stream ended or decoding stopped).
    ended: bool,
    audio: Pending,
    /// The verdict once the last block has been handed out: the truncation note, or the
    /// reason the whole file is rejected.
    done: Option<std::result::Result<Option<String>, String>>,
}

/// What a [`Decoding`] has produced, from [`Decoding::summary`].
struct Summary {
    frames: u64,
    truncated: Option<String>,
    stats: DecodeStats,
}

impl Decoding {
    /// Sets up the decoder and decodes up to the first audio, which fixes the rate and
    /// channel count. A file with no audio at all is rejected here, with the reason.
    fn start(path: &Path, opened: Opened) -> Result<(Self, AudioInfo)> {
        let Opened {
            format,
            track_id,
            params,
            num_frames,
            time_base,
            file_len,
            wav_truncation,
            wav_fact_frames,
            known_magic,
            file: _,
        } = opened;
        let codec = codec_name(params.codec).into_owned();
        let decoder = make_decoder(path, &params, &codec)?;
        let mut d = Self {
            format,
            decoder,
            track_id,
            time_base,
            num_frames,
            file_len,
            wav_truncation,
            known_magic,
            fact_limit: wav_fact_frames
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0),
            block_frames: (params.frames_per_block.unwrap_or(0) as usize).max(1),
            stats: DecodeStats::default(),
            stopped: None,
            consecutive_demux_errors: 0,
            last_error: None,
            origin: None,
            unsupported: None,
            ended: false,
            audio: Pending::new(params.sample_rate),
            done: None,
        };
        while d.audio.channels == 0 && !d.ended {
            d.pull();
        }
        if d.audio.channels == 0 {
            return Err(Error::decode(path, d.no_audio_reason(&codec)));
        }
        let sample_rate_hz = d.audio.rate.or(params.sample_rate).unwrap_or(0);
        if sample_rate_hz == 0 {
            // Only reachable with a decoder that reports no rate; go through the rest
            // (keeping none of it) so the verdict is the one a whole-file look gives.
            while !d.ended {
                d.pull();
                d.audio.clear_queue();
            }
            if !d.known_magic && d.stats.corrupt_packets > d.stats.packets {
                return Err(Error::decode(path, NOT_AUDIO));
            }
            return Err(Error::decode(path, "no sample rate in the stream"));
        }
        if let Some(reason) = implausible(d.audio.channels, sample_rate_hz) {
            return Err(Error::decode(path, reason));
        }
        d.audio.rate = Some(sample_rate_hz);
        let info = AudioInfo {
            codec,
            sample_rate_hz,
            channels: d.audio.channels,
        };
        Ok((d, info))
    }

    /// Why a stream that ended without any audio is rejected.
    fn no_audio_reason(&mut self, codec: &str) -> String {
        // A header that promised frames (MP3 Xing, FLAC STREAMINFO) but none came.
        let promised = self.num_frames.is_some_and(|n| n > 0);
        if !self.known_magic {
            // symphonia found something frame-like somewhere in a file that does not
            // start like audio, and none of it decoded.
            NOT_AUDIO.to_owned()
        } else if let Some(msg) = self.unsupported {
            format!("unsupported codec: {codec} ({msg})")
        } else if self.stopped.is_some() || self.wav_truncation.is_some() || promised {
            TRUNCATED_NO_AUDIO.to_owned()
        } else if self.stats.corrupt_packets > 0 {
            format!(
                "no decodable audio: {} corrupt packets ({})",
                self.stats.corrupt_packets,
                self.last_error.take().unwrap_or_default()
            )
        } else {
            "no audio in the file".to_owned()
        }
    }

    /// Frames to reserve for a whole-file decode: the header's claim, within reason.
    fn reserve_frames(&self) -> usize {
        self.num_frames
            .unwrap_or(0)
            .min(MAX_RESERVE_FRAMES)
            .min(self.file_len.saturating_mul(MAX_FRAMES_PER_BYTE)) as usize
    }

    /// See [`DecodeStream::next_block`]; `out` is cleared and has the right channel count.
    fn next_block(&mut self, path: &Path, out: &mut [Vec<f32>]) -> Result<bool> {
        if let Some(done) = &self.done {
            return match done {
                Ok(_) => Ok(false),
                Err(reason) => Err(Error::decode(path, reason.clone())),
            };
        }
        let rate = self.audio.rate.unwrap_or(1) as usize;
        let target = (rate / BLOCK_TARGET_DIVISOR).max(1);
        let max = (rate * BLOCK_MAX_SECONDS).max(1);
        loop {
            if let Some(n) = self.fact_limit
                && self.audio.frames_so_far() >= n + self.block_frames
            {
                // Decoding ran a whole block past `fact`: it was stale, not padding.
                self.fact_limit = None;
            }
            let ready = self.audio.emittable(self.fact_limit);
            let all_in =
                self.ended && self.audio.silence_owed == 0 && self.audio.deferred_frames() == 0;
            if ready >= target || (all_in && ready > 0) {
                self.audio.take(ready.min(max), out);
                return Ok(true);
            }
            if self.audio.silence_owed > 0 {
                let n = self.audio.silence_owed.min(max);
                self.audio.push_silence(n);
            } else if self.audio.deferred_frames() > 0 {
                self.audio.undefer();
            } else if self.ended {
                let verdict = self.conclude();
                let result = match &verdict {
                    Ok(_) => Ok(false),
                    Err(reason) => Err(Error::decode(path, reason.clone())),
                };
                self.done = Some(verdict);
                return result;
            } else {
                self.pull();
            }
        }
    }

    /// The verdict once every block is out: a rejection, or the truncation note.
    fn conclude(&mut self) -> std::result::Result<Option<String>, String> {
        // Whatever is left is ADPCM padding past `fact` (see `fact_limit`).
        self.audio.clear_queue();
        // Random bytes can contain a few things that look like MP3 frames; real audio
        // decodes far more packets than it loses.
        if !self.known_magic && self.stats.corrupt_packets > self.stats.packets {
            return Err(NOT_AUDIO.to_owned());
        }
        let frames = self.audio.emitted;
        let rate = self.audio.rate.unwrap_or(1);
        // The WAV header's claim is the most precise reason; a demuxer stop comes next; a
        // stream shorter than its header's frame count is the last resort (FLAC, MP3 with
        // a Xing header: their readers just see the end of the file).
        let reason = self
            .wav_truncation
            .take()
            .or(self.stopped.take())
            .or_else(|| {
                let expected = self.num_frames?;
                // Encoder delay and padding make decoded lengths differ slightly from the
                // header; only a real shortfall (more than 2 % or 0.1 s) counts.
                let slack = (expected / 50).max(u64::from(rate) / 10);
                ((frames as u64) + slack < expected).then(|| {
                    format!(
                        "the stream ends before its declared length of {:.2} s",
                        expected as f64 / f64::from(rate)
                    )
                })
            });
        Ok(reason.map(|reason| {
            format!(
                "truncated after {:.2} s: {reason}",
                frames as f64 / f64::from(rate)
            )
        }))
    }

    fn summary(self) -> Summary {
        let mut stats = self.stats;
        stats.gap_frames = self.audio.gap_total;
        Summary {
            frames: self.audio.emitted as u64,
            truncated: self.done.and_then(|d| d.ok()).flatten(),
            stats,
        }
    }

    /// Reads one packet and decodes it into `audio`, or notes why there are no more.
    fn pull(&mut self) {
        let packet = match self.format.next_packet() {
            Ok(Some(packet)) => {
                self.consecutive_demux_errors = 0;
                packet
            }
            Ok(None) => {
                self.ended = true;
                return;
            }
            Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.stop("the file ends mid-packet".to_owned());
                return;
            }
            Err(SymError::DecodeError(msg)) => {
                // A damaged page or frame header: the reader resynchronises on the next call.
                self.stats.corrupt_packets += 1;
                self.last_error = Some(msg.to_owned());
                self.consecutive_demux_errors += 1;
                if self.consecutive_demux_errors >= MAX_CONSECUTIVE_DEMUX_ERRORS {
                    self.stop(format!("corrupt stream: {msg}"));
                }
                return;
            }
            Err(SymError::ResetRequired) => {
                // A chained Ogg stream starting a new logical stream. Call recordings are
                // not chained; keep what we have rather than guess at a new track layout.
                self.stop("a second chained stream follows and was not decoded".to_owned());
                return;
            }
            Err(e) => {
                self.stop(e.to_string());
                return;
            }
        };
        if packet.track_id != self.track_id {
            return;
        }
        // Where the packet's audio starts once the decoder has trimmed encoder delay: the
        // timestamp is that of the first decoded frame, trimmed ones included.
        let start = packet
            .pts
            .get()
            .saturating_add(i64::try_from(packet.trim_start.get()).unwrap_or(i64::MAX));
        let origin = *self.origin.get_or_insert(start);
        if let Some(at) = frames_between(origin, start, self.time_base, self.audio.rate) {
            // Allow 2 ms of rounding between timestamp and sample clocks.
            let slack = self.audio.rate.map_or(0, |r| r as usize / 500);
            let have = self.audio.frames_so_far();
            if at > have + slack {
                self.audio.owe_silence(at - have);
            }
        }
        match self.decoder.decode(&packet) {
            Ok(buf) => {
                if self.audio.append(&buf) {
                    self.stats.packets += 1;
                } else {
                    self.stats.corrupt_packets += 1;
                    self.last_error = Some("the sample rate changed mid-stream".to_owned());
                }
            }
            // Invalid data in one packet, or a packet shorter than its header says:
            // skip it, as a player would, and keep going. The next packet's timestamp
            // puts silence in its place, so everything after stays at the right time.
            Err(SymError::DecodeError(msg)) => {
                self.stats.corrupt_packets += 1;
                self.last_error = Some(msg.to_owned());
            }
            Err(SymError::IoError(e)) => {
                self.stats.corrupt_packets += 1;
                self.last_error = Some(e.to_string());
            }
            Err(SymError::ResetRequired) => {
                self.decoder.reset();
            }
            // A feature the decoder lacks, or garbage that looks like one: skip the packet;
            // if no packet decodes at all, the codec variant is what is unsupported.
            Err(SymError::Unsupported(msg)) => {
                self.stats.corrupt_packets += 1;
                self.last_error = Some(msg.to_owned());
                self.unsupported.get_or_insert(msg);
            }
            Err(e) => self.stop(e.to_string()),
        }
    }

    fn stop(&mut self, reason: String) {
        self.stopped = Some(reason);
        self.ended = true;
    }
}

/// Decoded audio not yet handed out, in time order: `queue`, then `silence_owed` frames
/// of silence, then `deferred`. Silence and deferred frames only exist between a packet
/// whose timestamp reveals lost audio and the next block; at most a packet is deferred.
struct Pending {
    /// Channel count, fixed by the first decoded buffer; 0 before it.
    channels: usize,
    /// The stream's rate: the header's until the first buffer decodes, then the decoder's.
    rate: Option<u32>,
    queue: Vec<Vec<f32>>,
    /// Silence owed for lost audio (also before the channel count is known).
    silence_owed: usize,
    /// A packet decoded while silence was owed: it belongs after the silence.
    deferred: Vec<Vec<f32>>,
    /// Frames handed out so far.
    emitted: usize,
    /// All silence inserted, owed or not.
    gap_total: usize,
}

impl Pending {
    fn new(header_rate: Option<u32>) -> Self {
        Self {
            channels: 0,
            rate: header_rate.filter(|&r| r > 0),
            queue: Vec::new(),
            silence_owed: 0,
            deferred: Vec::new(),
            emitted: 0,
            gap_total: 0,
        }
    }

    fn queue_frames(&self) -> usize {
        self.queue.first().map_or(0, Vec::len)
    }

    fn deferred_frames(&self) -> usize {
        self.deferred.first().map_or(0, Vec::len)
    }

    /// Every frame decoded or owed so far: where the next packet's audio would start.
    fn frames_so_far(&self) -> usize {
        self.emitted + self.queue_frames() + self.silence_owed + self.deferred_frames()
    }

    /// Frames that can go out now: the queue, but nothing past `limit` in total.
    fn emittable(&self, limit: Option<usize>) -> usize {
        let queued = self.queue_frames();
        limit.map_or(queued, |n| queued.min(n.saturating_sub(self.emitted)))
    }

    /// Moves the first `n` queued frames to `out`.
    fn take(&mut self, n: usize, out: &mut [Vec<f32>]) {
        for (dst, src) in out.iter_mut().zip(&mut self.queue) {
            dst.extend_from_slice(&src[..n]);
            src.drain(..n);
        }
        self.emitted += n;
    }

    /// Drops what is queued or deferred (owed silence stays owed).
    fn clear_queue(&mut self) {
        for ch in self.queue.iter_mut().chain(&mut self.deferred) {
            ch.clear();
        }
    }

    /// Notes `frames` of lost audio, to be filled with silence before what comes next.
    fn owe_silence(&mut self, frames: usize) {
        self.silence_owed += frames;
        self.gap_total += frames;
    }

    /// Pays `n` frames of the silence owed into the queue.
    fn push_silence(&mut self, n: usize) {
        for ch in &mut self.queue {
            ch.resize(ch.len() + n, 0.0);
        }
        self.silence_owed -= n;
    }

    /// Moves the deferred packet to the queue, once the silence before it is paid.
    fn undefer(&mut self) {
        for (q, d) in self.queue.iter_mut().zip(&mut self.deferred) {
            q.append(d);
        }
    }

    /// Appends a decoded buffer; false when it was dropped (its rate differs).
    fn append(&mut self, buf: &GenericAudioBufferRef<'_>) -> bool {
        let frames = buf.frames();
        let planes = buf.num_planes();
        if frames == 0 || planes == 0 {
            return true;
        }
        let rate = buf.spec().rate();
        if self.channels == 0 {
            // The decoder's own rate wins over the header's (HE-AAC doubles it, for one).
            if rate > 0 {
                self.rate = Some(rate);
            }
            self.channels = planes;
            self.queue = vec![Vec::new(); planes];
            self.deferred = vec![Vec::new(); planes];
        } else if rate > 0 && self.rate.is_some_and(|r| r != rate) {
            // A mid-stream rate change cannot be represented in one stream.
            return false;
        }
        let dst = if self.silence_owed > 0 {
            &mut self.deferred
        } else {
            &mut self.queue
        };
        let start = dst[0].len();
        if planes == dst.len() {
            for ch in dst.iter_mut() {
                ch.resize(start + frames, 0.0);
            }
            let mut slices: Vec<&mut [f32]> = dst.iter_mut().map(|c| &mut c[start..]).collect();
            buf.copy_to_slice_planar::<f32, _>(&mut slices);
        } else {
            // The channel count changed mid-stream (MP3 can switch mono/stereo per frame):
            // keep the first layout, filling missing channels from the first plane.
            let mut scratch: Vec<Vec<f32>> = Vec::new();
            buf.copy_to_vecs_planar::<f32>(&mut scratch);
            for (i, ch) in dst.iter_mut().enumerate() {
                ch.extend_from_slice(scratch.get(i).unwrap_or(&scratch[0]));
            }
        }
        // Lossy decoders overshoot a little and float WAV can hold anything (NaN included);
        // downstream code relies on [-1, 1].
        for ch in dst.iter_mut() {
            for s in &mut ch[start..] {
                *s = if s.is_nan() { 0.0 } else { s.clamp(-1.0, 1.0) };
            }
        }
        true
    }
}

/// Frames at `rate` from timestamp `from` to `to` in `time_base` units; `None` when
/// unknown, negative, or too far to be a lost packet.
fn frames_between(
    from: i64,
    to: i64,
    time_base: Option<TimeBase>,
    rate: Option<u32>,
) -> Option<usize> {
    let (tb, rate) = (time_base?, rate?);
    let ticks = to.checked_sub(from).filter(|&t| t >= 0)?;
    let secs = f64::from(tb.numer.get()) * ticks as f64 / f64::from(tb.denom.get());
    (secs <= MAX_GAP_SECONDS).then(|| (secs * f64::from(rate)).round() as usize)
}

fn make_decoder(
    path: &Path,
    params: &AudioCodecParameters,
    codec: &str,
) -> Result<Box<dyn symphonia::core::codecs::audio::AudioDecoder>> {
    let registry = symphonia::default::get_codecs();
    if registry.get_audio_decoder(params.codec).is_none() {
        return Err(Error::decode(path, format!("unsupported codec: {codec}")));
    }
    registry
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| {
            let reason = match e {
                SymError::Unsupported(msg) => format!("unsupported codec: {codec} ({msg})"),
                SymError::DecodeError(msg) => format!("corrupt {codec} parameters: {msg}"),
                other => format!("cannot set up the {codec} decoder: {other}"),
            };
            Error::decode(path, reason)
        })
}

fn probe_inner(path: &Path) -> Result<(String, u32, usize)> {
    let Opened {
        mut format,
        track_id,
        params,
        ..
    } = open(path, false)?;
    let codec = codec_name(params.codec).into_owned();
    if symphonia::default::get_codecs()
        .get_audio_decoder(params.codec)
        .is_none()
    {
        return Err(Error::decode(path, format!("unsupported codec: {codec}")));
    }
    let channels = params
        .channels
        .as_ref()
        .map(|c| c.count())
        .filter(|&n| n > 0);
    if let (Some(rate), Some(channels)) = (params.sample_rate, channels) {
        return Ok((codec, rate, channels));
    }

    // The header left something open: decode until the first audio comes out.
    let mut decoder = make_decoder(path, &params, &codec)?;
    for _ in 0..256 {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(SymError::IoError(_)) => break,
            Err(_) => continue,
        };
        if packet.track_id != track_id {
            continue;
        }
        if let Ok(buf) = decoder.decode(&packet)
            && buf.frames() > 0
        {
            return Ok((codec, buf.spec().rate(), buf.num_planes()));
        }
    }
    Err(Error::decode(path, TRUNCATED_NO_AUDIO))
}

/// The short, stable codec name written into transcripts.
pub fn codec_name(id: AudioCodecId) -> Cow<'static, str> {
    use codec_ids::*;
    let name = match id {
        CODEC_ID_PCM_U8 => "pcm_u8",
        CODEC_ID_PCM_S8 => "pcm_s8",
        CODEC_ID_PCM_S16LE => "pcm_s16le",
        CODEC_ID_PCM_S16BE => "pcm_s16be",
        CODEC_ID_PCM_U16LE => "pcm_u16le",
        CODEC_ID_PCM_U16BE => "pcm_u16be",
        CODEC_ID_PCM_S24LE => "pcm_s24le",
        CODEC_ID_PCM_S24BE => "pcm_s24be",
        CODEC_ID_PCM_U24LE => "pcm_u24le",
        CODEC_ID_PCM_U24BE => "pcm_u24be",
        CODEC_ID_PCM_S32LE => "pcm_s32le",
        CODEC_ID_PCM_S32BE => "pcm_s32be",
        CODEC_ID_PCM_U32LE => "pcm_u32le",
        CODEC_ID_PCM_U32BE => "pcm_u32be",
        CODEC_ID_PCM_F32LE => "pcm_f32le",
        CODEC_ID_PCM_F32BE => "pcm_f32be",
        CODEC_ID_PCM_F64LE => "pcm_f64le",
        CODEC_ID_PCM_F64BE => "pcm_f64be",
        CODEC_ID_PCM_MULAW => "pcm_mulaw",
        CODEC_ID_PCM_ALAW => "pcm_alaw",
        CODEC_ID_ADPCM_IMA_WAV => "adpcm_ima",
        CODEC_ID_ADPCM_IMA_QT => "adpcm_ima_qt",
        CODEC_ID_ADPCM_MS => "adpcm_ms",
        CODEC_ID_ADPCM_G722 => "g722",
        CODEC_ID_ADPCM_G726 | CODEC_ID_ADPCM_G726LE => "g726",
        CODEC_ID_MP1 => "mp1",
        CODEC_ID_MP2 => "mp2",
        CODEC_ID_MP3 => "mp3",
        CODEC_ID_AAC => "aac",
        CODEC_ID_VORBIS => "vorbis",
        CODEC_ID_OPUS => "opus",
        CODEC_ID_SPEEX => "speex",
        CODEC_ID_FLAC => "flac",
        CODEC_ID_ALAC => "alac",
        CODEC_ID_WAVPACK => "wavpack",
        CODEC_ID_AC3 => "ac3",
        CODEC_ID_EAC3 => "eac3",
        CODEC_ID_WMA => "wma",
        CODEC_ID_NULL_AUDIO => "unknown",
        other => return Cow::Owned(format!("codec {other}")),
    };
    Cow::Borrowed(name)
}

/// The file as symphonia (and the WAV header reader) sees it: every read also extends
/// the BLAKE3 hash of the file's prefix where it can. Shared (the demuxer owns one
/// handle, [`DecodeStream`] another for `finish`), hence the mutex; it is only ever
/// locked by whoever is reading, so it is never contended.
#[derive(Clone)]
struct HashedFile {
    inner: Arc<Mutex<Hashing>>,
    len: u64,
    seekable: bool,
}

struct Hashing {
    file: File,
    /// Where the file's cursor is.
    pos: u64,
    hasher: blake3::Hasher,
    /// Bytes `[0, hashed)` have gone into the hasher, in order.
    hashed: u64,
    /// Where the reads since the last seek began.
    run_start: u64,
    /// The file's length when it was opened.
    len: u64,
    /// Whether to hash at all (a whole-file decode does not need it).
    enabled: bool,
    bytes_read: u64,
}

impl HashedFile {
    fn new(file: File, len: u64, seekable: bool, hash: bool) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Hashing {
                file,
                pos: 0,
                hasher: blake3::Hasher::new(),
                hashed: 0,
                run_start: 0,
                len,
                enabled: hash,
                bytes_read: 0,
            })),
            len,
            seekable,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Hashing> {
        // Only this module's reads and seeks hold the lock, and nothing in them panics;
        // should one ever, take the lock as it is rather than panic a second time.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads and hashes whatever the decoder left unhashed, to the end of the file;
    /// returns the hash and the bytes read in all.
    fn finish(&self) -> io::Result<(blake3::Hash, u64)> {
        let mut h = self.lock();
        if h.enabled {
            h.hash_from_file(u64::MAX)?;
        }
        Ok((h.hasher.finalize(), h.bytes_read))
    }
}

impl Hashing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let (start, end) = (self.pos, self.pos + n as u64);
        self.pos = end;
        self.bytes_read += n as u64;
        if !self.enabled || n == 0 {
            return Ok(n);
        }
        if start <= self.hashed {
            // BLAKE3 takes bytes in order: only what extends the prefix can go in.
            if self.hashed < end {
                self.hasher.update(&buf[(self.hashed - start) as usize..n]);
                self.hashed = end;
            }
        } else if end - self.run_start >= FILL_AFTER_BYTES && self.worth_filling() {
            // The reader skipped some bytes and is reading on without coming back (a WAV
            // reader past a metadata chunk): read the gap now, or everything it reads
            // from here on would have to be read again by `finish`.
            if self.hash_from_file(start)? {
                self.hasher.update(&buf[..n]);
                self.hashed = end;
            }
            self.pos = self.file.seek(SeekFrom::Start(end))?;
        }
        Ok(n)
    }

    /// Whether to read the gap before the current run now. Nobody can tell whether the
    /// reader will come back for it: if it does (MP4: index at the end, then the audio),
    /// reading it now costs the gap twice; if it never does (a WAV chunk skipped), not
    /// reading it costs everything after the gap twice. Reading it when the gap is small,
    /// or smaller than what follows it, keeps the worst case to the smaller of the two.
    fn worth_filling(&self) -> bool {
        let gap = self.run_start.saturating_sub(self.hashed);
        gap <= GAP_FILL_MAX_BYTES || gap <= self.len.saturating_sub(self.run_start)
    }

    /// Hashes `[hashed, to)` straight from the file, leaving the cursor where it ends;
    /// false when the file ended first.
    fn hash_from_file(&mut self, to: u64) -> io::Result<bool> {
        self.pos = self.file.seek(SeekFrom::Start(self.hashed))?;
        let mut buf = vec![0u8; 64 * 1024];
        while self.hashed < to {
            let want = (to - self.hashed).min(buf.len() as u64) as usize;
            let n = match self.file.read(&mut buf[..want]) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.bytes_read += n as u64;
            self.hasher.update(&buf[..n]);
            self.hashed += n as u64;
            self.pos = self.hashed;
        }
        Ok(true)
    }

    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = self.file.seek(to)?;
        self.pos = target;
        self.run_start = target;
        Ok(target)
    }
}

impl Read for HashedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
}

impl Seek for HashedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.lock().seek(to)
    }
}

impl MediaSource for HashedFile {
    fn is_seekable(&self) -> bool {
        self.seekable
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// A seekable byte source made of pieces: bytes held here (a rewritten header) and ranges
/// of the underlying file (everything else). symphonia reads it like a file.
struct SplicedSource<F> {
    file: F,
    /// Each piece with its start offset in the spliced stream, in order.
    pieces: Vec<(u64, Piece)>,
    len: u64,
    pos: u64,
    /// Where the file's cursor is, to skip redundant seeks.
    file_pos: Option<u64>,
}

/// One part of a [`SplicedSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Bytes(Vec<u8>),
    File { offset: u64, len: u64 },
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::File { len, .. } => *len,
        }
    }
}

impl<F: Read + Seek> SplicedSource<F> {
    fn new(file: F, pieces: Vec<Piece>) -> Self {
        let mut start = 0;
        let pieces: Vec<(u64, Piece)> = pieces
            .into_iter()
            .map(|p| {
                let at = start;
                start += p.len();
                (at, p)
            })
            .collect();
        Self {
            file,
            pieces,
            len: start,
            pos: 0,
            file_pos: None,
        }
    }
}

impl<F: Read + Seek> Read for SplicedSource<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.len {
            return Ok(0);
        }
        let idx = self
            .pieces
            .partition_point(|(start, _)| *start <= self.pos)
            .saturating_sub(1);
        let (start, piece) = &self.pieces[idx];
        let within = self.pos - start;
        let want = (piece.len() - within).min(buf.len() as u64) as usize;
        let n = match piece {
            Piece::Bytes(bytes) => {
                let from = within as usize;
                buf[..want].copy_from_slice(&bytes[from..from + want]);
                want
            }
            Piece::File { offset, .. } => {
                let at = offset + within;
                if self.file_pos != Some(at) {
                    self.file.seek(SeekFrom::Start(at))?;
                }
                let n = self.file.read(&mut buf[..want])?;
                self.file_pos = Some(at + n as u64);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F: Read + Seek> Seek for SplicedSource<F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

impl<F: Read + Seek + Send + Sync> MediaSource for SplicedSource<F> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// Reading just enough of a RIFF/WAVE header to name unsupported codecs and repair the
/// length fields and chunk layouts that symphonia would reject or misread.
mod wav {
    use std::io::{self, Read, Seek, SeekFrom};

    use super::{Piece, read_up_to};

    const PCM: u16 = 0x0001;
    const MS_ADPCM: u16 = 0x0002;
    const IEEE_FLOAT: u16 = 0x0003;
    const ALAW: u16 = 0x0006;
    const MULAW: u16 = 0x0007;
    const IMA_ADPCM: u16 = 0x0011;
    const EXTENSIBLE: u16 = 0xfffe;

    /// Chunks before `data` that we are willing to walk; real files have a handful.
    const MAX_CHUNKS: usize = 64;

    /// What to do with a WAV file.
    #[derive(Debug)]
    pub(super) enum Plan {
        /// Hand the file to symphonia unchanged (also when the header is too damaged for
        /// us to say anything: symphonia then gives the precise error).
        AsIs,
        /// The format tag names a codec symphonia cannot decode; this is the reason.
        Unsupported(String),
        /// Present these pieces instead of the file. `truncation` is set when the data
        /// chunk claims more bytes than the file holds.
        Splice {
            pieces: Vec<Piece>,
            truncation: Option<String>,
        },
    }

    pub(super) fn is_riff_wave(head: &[u8]) -> bool {
        head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE"
    }

    /// Walks the chunks up to `data` and decides whether the header needs repair. Also
    /// returns the `fact` chunk's frame count for ADPCM, where it is the only exact length.
    pub(super) fn plan(
        file: &mut (impl Read + Seek),
        file_len: u64,
    ) -> io::Result<(Plan, Option<u64>)> {
        file.seek(SeekFrom::Start(0))?;
        let mut riff = [0u8; 12];
        if read_up_to(file, &mut riff)? < 12 {
            return Ok((Plan::AsIs, None));
        }
        let riff_len = u32::from_le_bytes([riff[4], riff[5], riff[6], riff[7]]);

        // Chunks before `data`, as (offset, length including the 8-byte header and pad).
        let mut before_data: Vec<(u64, u64)> = Vec::new();
        // The fmt chunk: where it is, its body (first 64 bytes are all we need).
        let mut fmt: Option<(u64, u32, Vec<u8>)> = None;
        let mut fact: Option<u64> = None;
        let mut pos = 12u64;

        for _ in 0..MAX_CHUNKS {
            if pos + 8 > file_len {
                // No data chunk before the end: symphonia reports the truncated header.
                return Ok((Plan::AsIs, None));
            }
            file.seek(SeekFrom::Start(pos))?;
            let mut header = [0u8; 8];
            if read_up_to(file, &mut header)? < 8 {
                return Ok((Plan::AsIs, None));
            }
            let tag = [header[0], header[1], header[2], header[3]];
            let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);

            if &tag == b"data" {
                let Some((fmt_pos, fmt_len, fmt_body)) = fmt else {
                    return Ok((Plan::AsIs, None));
                };
                let format_tag = u16::from_le_bytes([fmt_body[0], fmt_body[1]]);
                // For PCM the fact chunk is optional and often stale; only trust it where
                // the block structure makes it necessary.
                let fact = fact.filter(|_| matches!(format_tag, MS_ADPCM | IMA_ADPCM));
                let plan = plan_data(DataChunk {
                    riff_len,
                    before_data,
                    fmt_pos,
                    fmt_len,
                    fmt_body: &fmt_body,
                    format_tag,
                    data_start: pos + 8,
                    declared: len,
                    file_len,
                });
                return Ok((plan, fact));
            }

            let body_len = u64::from(len) + u64::from(len & 1);
            if &tag == b"fmt " {
                let mut body = vec![0u8; (len as usize).min(64)];
                let got = read_up_to(file, &mut body)?;
                if got < 16 || (len as usize) < 16 {
                    return Ok((Plan::AsIs, None));
                }
                body.truncate(got);
                if let Some(reason) =
                    unsupported_reason(&body).or_else(|| implausible_reason(&body))
                {
                    return Ok((Plan::Unsupported(reason), None));
                }
                fmt = Some((pos, len, body));
            } else if &tag == b"fact" && len >= 4 {
                let mut n = [0u8; 4];
                if read_up_to(file, &mut n)? == 4 {
                    fact = Some(u64::from(u32::from_le_bytes(n)));
                }
            }
            before_data.push((pos, 8 + body_len));
            pos += 8 + body_len;
        }
        Ok((Plan::AsIs, None))
    }

    struct DataChunk<'a> {
        riff_len: u32,
        before_data: Vec<(u64, u64)>,
        fmt_pos: u64,
        fmt_len: u32,
        fmt_body: &'a [u8],
        format_tag: u16,
        data_start: u64,
        declared: u32,
        file_len: u64,
    }

    fn plan_data(d: DataChunk<'_>) -> Plan {
        let available = d.file_len.saturating_sub(d.data_start);
        // 0xFFFFFFFF is the "length unknown" convention of streaming writers, not a claim.
        let unknown_len = d.declared == u32::MAX;
        let over_claim = !unknown_len && u64::from(d.declared) > available;
        let data_len = if unknown_len {
            available.min(u64::from(u32::MAX - 1))
        } else {
            u64::from(d.declared).min(available)
        };
        // symphonia requires G.711 fmt chunks of exactly 18 bytes (with cbSize); telephony
        // systems often write 16.
        let fix_fmt = matches!(d.format_tag, ALAW | MULAW) && d.fmt_len != 18;
        // A RIFF length too small for the data makes symphonia reject the data chunk.
        let riff_short = d.riff_len != u32::MAX
            && u64::from(d.riff_len) + 8 < d.data_start + data_len.min(u64::from(d.declared));

        if !(unknown_len || over_claim || fix_fmt || riff_short) {
            return Plan::AsIs;
        }

        let mut pieces = vec![Piece::Bytes(Vec::new())]; // RIFF header, filled in below
        for &(offset, len) in &d.before_data {
            if offset == d.fmt_pos && fix_fmt {
                let mut chunk = b"fmt ".to_vec();
                chunk.extend_from_slice(&18u32.to_le_bytes());
                chunk.extend_from_slice(&d.fmt_body[..16]);
                chunk.extend_from_slice(&0u16.to_le_bytes()); // cbSize: no extra bytes
                pieces.push(Piece::Bytes(chunk));
            } else {
                pieces.push(Piece::File { offset, len });
            }
        }
        let mut data_header = b"data".to_vec();
        data_header.extend_from_slice(&(data_len as u32).to_le_bytes());
        pieces.push(Piece::Bytes(data_header));
        pieces.push(Piece::File {
            offset: d.data_start,
            len: data_len,
        });

        let total: u64 = 12 + pieces.iter().map(Piece::len).sum::<u64>();
        let riff_len = u32::try_from(total - 8).unwrap_or(u32::MAX);
        let mut riff = b"RIFF".to_vec();
        riff.extend_from_slice(&riff_len.to_le_bytes());
        riff.extend_from_slice(b"WAVE");
        pieces[0] = Piece::Bytes(riff);

        let truncation = over_claim.then(|| {
            format!(
                "the data chunk claims {} bytes but only {available} are present",
                d.declared
            )
        });
        Plan::Splice { pieces, truncation }
    }

    /// `Some(reason)` when the fmt chunk names a codec symphonia's WAV reader cannot decode.
    pub(super) fn unsupported_reason(fmt_body: &[u8]) -> Option<String> {
        let tag = u16::from_le_bytes([fmt_body[0], fmt_body[1]]);
        match tag {
            PCM | MS_ADPCM | IEEE_FLOAT | ALAW | MULAW | IMA_ADPCM => None,
            EXTENSIBLE => {
                // The sub-format GUID starts with the format tag it stands for
                // (KSDATAFORMAT_SUBTYPE_xxx = {0000xxxx-0000-0010-8000-00aa00389b71}).
                let sub = fmt_body.get(24..26)?;
                let sub = u16::from_le_bytes([sub[0], sub[1]]);
                match sub {
                    PCM | IEEE_FLOAT | ALAW | MULAW => None,
                    _ => Some(format!(
                        "unsupported codec: {} (extensible sub-format 0x{sub:04x})",
                        format_tag_name(sub)
                    )),
                }
            }
            _ => Some(format!(
                "unsupported codec: {} (format tag 0x{tag:04x})",
                format_tag_name(tag)
            )),
        }
    }

    /// `Some(reason)` when the fmt chunk's numbers cannot be a recording: such headers
    /// (corruption, or hostile files) otherwise reach symphonia's arithmetic and our
    /// per-channel buffers. Checked before symphonia sees the file.
    pub(super) fn implausible_reason(fmt_body: &[u8]) -> Option<String> {
        let channels = u16::from_le_bytes([fmt_body[2], fmt_body[3]]);
        let rate = u32::from_le_bytes([fmt_body[4], fmt_body[5], fmt_body[6], fmt_body[7]]);
        super::implausible(usize::from(channels), rate)
    }

    /// Names of WAV format tags (mmreg.h) seen in telephony and voice recorders.
    fn format_tag_name(tag: u16) -> &'static str {
        match tag {
            0x0000 => "unknown",
            0x0010 => "oki adpcm",
            0x0014 => "g.723 adpcm",
            0x0017 => "dialogic oki adpcm",
            0x0020 => "yamaha adpcm",
            0x0022 => "truespeech",
            0x0031 => "gsm 6.10",
            0x0040 => "g.721 adpcm",
            0x0042 => "g.723.1",
            0x0045 => "g.726 adpcm",
            0x0050 => "mpeg audio",
            0x0055 => "mp3",
            0x0064 => "g.726 adpcm",
            0x0065 => "g.722 adpcm",
            0x0070..=0x0075 => "vox",
            0x00ff | 0x1600 | 0x1610 => "aac",
            0x0092 | 0x2000 => "ac3",
            0x0160..=0x0163 => "wma",
            0x0401 => "intel music coder",
            0x1000 => "gsm (olivetti)",
            0x6750 => "vorbis",
            0x704f | 0x7450 => "opus",
            _ => "unknown codec",
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn fmt_body(tag: u16) -> Vec<u8> {
            let mut b = vec![0u8; 16];
            b[0..2].copy_from_slice(&tag.to_le_bytes());
            b
        }

        #[test]
        fn names_unsupported_format_tags() {
            assert_eq!(
                unsupported_reason(&fmt_body(0x0031)).as_deref(),
                Some("unsupported codec: gsm 6.10 (format tag 0x0031)")
            );
            assert_eq!(unsupported_reason(&fmt_body(PCM)), None);
            assert_eq!(unsupported_reason(&fmt_body(MULAW)), None);
            assert_eq!(
                unsupported_reason(&fmt_body(0x1234)).as_deref(),
                Some("unsupported codec: unknown codec (format tag 0x1234)")
            );
        }

        #[test]
        fn names_unsupported_extensible_sub_formats() {
            let mut b = fmt_body(EXTENSIBLE);
            b.resize(40, 0);
            b[24..26].copy_from_slice(&0x0031u16.to_le_bytes());
            assert_eq!(
                unsupported_reason(&b).as_deref(),
                Some("unsupported codec: gsm 6.10 (extensible sub-format 0x0031)")
            );
            b[24..26].copy_from_slice(&PCM.to_le_bytes());
            assert_eq!(unsupported_reason(&b), None);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// A canonical 44-byte WAV header for 16-bit PCM.
    fn wav_header(channels: u16, rate: u32, data_len: u32, riff_len: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&riff_len.to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&channels.to_le_bytes());
        h.extend_from_slice(&rate.to_le_bytes());
        h.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        h.extend_from_slice(&(2 * channels).to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_len.to_le_bytes());
        h
    }

    pub(crate) fn write_temp(bytes: &[u8], suffix: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        f
    }

    fn ramp(frames: usize) -> Vec<u8> {
        (0..frames)
            .flat_map(|i| ((i as i16).wrapping_mul(37)).to_le_bytes())
            .collect()
    }

    #[test]
    fn spliced_source_reads_across_pieces_and_seeks() {
        let file = write_temp(b"0123456789", ".bin");
        let pieces = vec![
            Piece::Bytes(b"ab".to_vec()),
            Piece::File { offset: 3, len: 4 },
            Piece::Bytes(b"z".to_vec()),
        ];
        let mut src = SplicedSource::new(File::open(file.path()).unwrap(), pieces);
        assert_eq!(src.byte_len(), Some(7));
        let mut all = Vec::new();
        src.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"ab3456z");
        src.seek(SeekFrom::Start(3)).unwrap();
        let mut two = [0u8; 2];
        src.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"45");
        src.seek(SeekFrom::End(-1)).unwrap();
        src.read_exact(&mut two[..1]).unwrap();
        assert_eq!(&two[..1], b"z");
        assert!(src.seek(SeekFrom::Current(-10)).is_err());
    }

    #[test]
    fn streaming_wav_with_unknown_lengths_decodes_fully() {
        // ffmpeg writing to a pipe leaves both lengths at 0xFFFFFFFF.
        let mut bytes = wav_header(1, 8000, u32::MAX, u32::MAX);
        bytes.extend(ramp(1000));
        let f = write_temp(&bytes, ".wav");
        let audio = decode_file(f.path()).unwrap();
        assert_eq!(audio.frames(), 1000);
        assert_eq!(audio.truncated, None);
        assert_eq!(audio.codec, "pcm_s16le");
    }

    #[test]
    fn wav_with_short_data_keeps_every_whole_frame() {
        // Header promises 8000 frames, 1001 are there plus half a frame.
        let mut bytes = wav_header(1, 8000, 16000, 36 + 16000);
        bytes.extend(ramp(1001));
        bytes.push(0x7f);
        let f = write_temp(&bytes, ".wav");
        let audio = decode_file(f.path()).unwrap();
        assert_eq!(audio.frames(), 1001);
        let msg = audio.truncated.unwrap();
        assert!(msg.starts_with("truncated after 0.13 s: "), "{msg}");
        assert!(msg.contains("claims 16000 bytes but only 2003"), "{msg}");
    }

    #[test]
    fn wav_with_small_riff_length_still_decodes() {
        let mut bytes = wav_header(1, 8000, 2000, 36);
        bytes.extend(ramp(1000));
        let f = write_temp(&bytes, ".wav");
        let audio = decode_file(f.path()).unwrap();
        assert_eq!(audio.frames(), 1000);
        assert_eq!(audio.truncated, None);
    }

    #[test]
    fn mulaw_wav_with_16_byte_fmt_chunk_decodes() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&(36u32 + 800).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&7u16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&8u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&800u32.to_le_bytes());
        bytes.extend((0..800).map(|i| (i % 256) as u8));
        let f = write_temp(&bytes, ".wav");
        let audio = decode_file(f.path()).unwrap();
        assert_eq!(audio.codec, "pcm_mulaw");
        assert_eq!(audio.frames(), 800);
    }

    #[test]
    fn samples_stay_in_range() {
        // 32-bit float WAV holding out-of-range values and a NaN.
        let samples = [0.5f32, 2.0, -3.0, f32::NAN, -0.25];
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&(38u32 + 20).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&18u32.to_le_bytes());
        bytes.extend_from_slice(&3u16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&32000u32.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&32u16.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&20u32.to_le_bytes());
        for s in samples {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        let f = write_temp(&bytes, ".wav");
        let audio = decode_file(f.path()).unwrap();
        assert_eq!(audio.channels[0], vec![0.5, 1.0, -1.0, 0.0, -0.25]);
    }

    #[test]
    fn missing_file_is_a_decode_error_naming_the_path() {
        let err = decode_file(Path::new("/nonexistent/call.wav")).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }));
        assert!(
            err.to_string()
                .starts_with("/nonexistent/call.wav: vanished before it was read")
        );
    }

    #[test]
    fn panics_become_decode_errors() {
        let err = guarded(Path::new("x.wav"), || -> Result<()> { panic!("boom") }).unwrap_err();
        assert_eq!(err.to_string(), "x.wav: decoder crashed: boom");
    }

    #[test]
    fn codec_names_are_stable() {
        assert_eq!(codec_name(codec_ids::CODEC_ID_PCM_S16LE), "pcm_s16le");
        assert_eq!(codec_name(codec_ids::CODEC_ID_ADPCM_IMA_WAV), "adpcm_ima");
        assert_eq!(codec_name(codec_ids::CODEC_ID_OPUS), "opus");
    }

    #[test]
    fn magic_detection() {
        assert!(has_known_magic(b"RIFF\0\0\0\0WAVE"));
        assert!(has_known_magic(&[0xff, 0xfb, 0x90, 0x00]));
        assert!(has_known_magic(b"\0\0\0\x20ftypM4A "));
        assert!(!has_known_magic(b"hello world"));
    }

    /// Decodes `path` as a stream: its blocks per channel, joined, and how it ended.
    fn stream_all(stream: &mut DecodeStream) -> (Vec<Vec<f32>>, usize) {
        let mut block = vec![Vec::new(); stream.info().channels];
        let mut joined = vec![Vec::new(); stream.info().channels];
        let mut longest = 0;
        while stream.next_block(&mut block).unwrap() {
            assert!(!block[0].is_empty(), "an empty block before the end");
            longest = longest.max(block[0].len());
            for (j, b) in joined.iter_mut().zip(&block) {
                assert_eq!(b.len(), block[0].len(), "ragged block");
                j.extend_from_slice(b);
            }
        }
        (joined, longest)
    }

    /// Shifts the timestamps of every packet after the first `after` by `by` ticks: the
    /// demuxer skipping over lost data, as a damaged file makes it.
    struct JumpAfter {
        inner: Box<dyn FormatReader>,
        after: usize,
        by: i64,
    }

    impl FormatReader for JumpAfter {
        fn format_info(&self) -> &symphonia::core::formats::FormatInfo {
            self.inner.format_info()
        }
        fn media_info(&self) -> &symphonia::core::formats::MediaInfo {
            self.inner.media_info()
        }
        fn metadata(&mut self) -> symphonia::core::meta::Metadata<'_> {
            self.inner.metadata()
        }
        fn seek(
            &mut self,
            mode: symphonia::core::formats::SeekMode,
            to: symphonia::core::formats::SeekTo,
        ) -> symphonia::core::errors::Result<symphonia::core::formats::SeekedTo> {
            self.inner.seek(mode, to)
        }
        fn tracks(&self) -> &[symphonia::core::formats::Track] {
            self.inner.tracks()
        }
        fn next_packet(
            &mut self,
        ) -> symphonia::core::errors::Result<Option<symphonia::core::packet::Packet>> {
            let mut packet = self.inner.next_packet()?;
            if let Some(p) = &mut packet {
                if self.after == 0 {
                    p.pts = symphonia::core::units::Timestamp::new(p.pts.get() + self.by);
                } else {
                    self.after -= 1;
                }
            }
            Ok(packet)
        }
        fn into_inner<'s>(self: Box<Self>) -> MediaSourceStream<'s>
        where
            Self: 's,
        {
            self.inner.into_inner()
        }
    }

    /// The stream's own decoder, panicking on the packet after the first `after`.
    struct PanicAfter {
        inner: Box<dyn AudioDecoder>,
        after: usize,
    }

    impl AudioDecoder for PanicAfter {
        fn reset(&mut self) {
            self.inner.reset()
        }
        fn codec_info(&self) -> &symphonia::core::codecs::CodecInfo {
            self.inner.codec_info()
        }
        fn codec_params(&self) -> &AudioCodecParameters {
            self.inner.codec_params()
        }
        fn decode_ref(
            &mut self,
            packet: &symphonia::core::packet::PacketRef<'_>,
        ) -> symphonia::core::errors::Result<GenericAudioBufferRef<'_>> {
            assert!(self.after > 0, "boom");
            self.after -= 1;
            self.inner.decode_ref(packet)
        }
        fn finalize(&mut self) -> symphonia::core::codecs::audio::FinalizeResult {
            self.inner.finalize()
        }
        fn last_decoded(&self) -> GenericAudioBufferRef<'_> {
            self.inner.last_decoded()
        }
    }

    fn ramp_wav(rate: u32, frames: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let mut bytes = wav_header(1, rate, 2 * frames as u32, 36 + 2 * frames as u32);
        bytes.extend(ramp(frames));
        (write_temp(&bytes, ".wav"), bytes)
    }

    #[test]
    fn lost_audio_becomes_silence_handed_out_a_second_at_a_time() {
        // 8 kHz WAV packets are 1152 frames; the stream decodes the first one to open.
        let (f, _) = ramp_wav(8000, 20_000);
        let plain = decode_file(f.path()).unwrap().channels.remove(0);
        let mut stream = DecodeStream::open(f.path()).unwrap();
        // Packets 2..=5 as they are, then a jump of 10 s.
        stream.decoding.format = Box::new(JumpAfter {
            inner: stream.decoding.format,
            after: 4,
            by: 80_000,
        });
        let mut block = vec![Vec::new()];
        let mut joined = Vec::new();
        while stream.next_block(&mut block).unwrap() {
            assert!(
                block[0].len() <= 8000,
                "a block of {} frames",
                block[0].len()
            );
            joined.extend_from_slice(&block[0]);
            // Only about a block is held back, silence included.
            let held =
                stream.decoding.audio.queue_frames() + stream.decoding.audio.deferred_frames();
            assert!(held <= 8000 + 2000, "{held} frames held");
        }
        let before = 5 * 1152;
        let mut want = plain[..before].to_vec();
        want.extend(std::iter::repeat_n(0.0, 80_000));
        want.extend_from_slice(&plain[before..]);
        assert!(joined == want, "audio after the jump is not 10 s later");
        let end = stream.finish().unwrap();
        assert_eq!(end.frames, 100_000);
        assert_eq!(end.stats.gap_frames, 80_000);
        assert_eq!(end.truncated, None);
    }

    #[test]
    fn a_panic_while_decoding_a_block_is_an_error_naming_the_file() {
        let (f, bytes) = ramp_wav(8000, 20_000);
        let mut stream = DecodeStream::open(f.path()).unwrap();
        stream.decoding.decoder = Box::new(PanicAfter {
            inner: stream.decoding.decoder,
            after: 3,
        });
        let mut block = vec![Vec::new()];
        let err = loop {
            match stream.next_block(&mut block) {
                Ok(more) => assert!(more, "ended without reaching the panic"),
                Err(e) => break e,
            }
        };
        let want = format!("{}: decoder crashed: boom", f.path().display());
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        assert_eq!(err.to_string(), want);
        assert!(block[0].is_empty(), "a block from a crashed decoder");
        // The stream stays failed, and the file can still be hashed.
        assert_eq!(stream.next_block(&mut block).unwrap_err().to_string(), want);
        assert_eq!(stream.finish().unwrap().hash, blake3::hash(&bytes));
    }

    #[test]
    fn a_stream_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<DecodeStream>();
    }

    #[test]
    fn a_block_needs_one_buffer_per_channel() {
        let (f, _) = ramp_wav(8000, 100);
        let mut stream = DecodeStream::open(f.path()).unwrap();
        let err = stream
            .next_block(&mut [Vec::new(), Vec::new()])
            .unwrap_err();
        assert!(err.to_string().contains("a block of 2 channels"), "{err}");
        assert!(stream.next_block(&mut [Vec::new()]).unwrap());
    }

    /// A mono 8 kHz IMA ADPCM WAV of `blocks` 256-byte blocks (505 frames each) whose
    /// `fact` chunk claims `fact` frames.
    pub(crate) fn ima_wav(blocks: usize, fact: u32) -> tempfile::NamedTempFile {
        let data_len = 256 * blocks as u32;
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(4 + 28 + 12 + 8 + data_len).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&20u32.to_le_bytes());
        b.extend_from_slice(&0x11u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&4055u32.to_le_bytes());
        b.extend_from_slice(&256u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&505u16.to_le_bytes());
        b.extend_from_slice(b"fact");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&fact.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&data_len.to_le_bytes());
        for i in 0..blocks {
            // Block header: predictor 0, step index 40, reserved; then nibbles.
            b.extend_from_slice(&[0, 0, 40, 0]);
            b.extend((0..252).map(|j| ((i * 7 + j * 13) % 256) as u8));
        }
        write_temp(&b, ".wav")
    }

    #[test]
    fn adpcm_padding_past_fact_is_dropped_and_a_stale_fact_ignored() {
        // (fact, frames expected): padding in the last block; no fact claim at all; a fact
        // a whole block short of the data, which is stale, not padding.
        for (fact, want) in [(10 * 505 - 100, 10 * 505 - 100), (0, 5050), (1000, 5050)] {
            let f = ima_wav(10, fact as u32);
            let audio = decode_file(f.path()).unwrap();
            assert_eq!(audio.codec, "adpcm_ima");
            assert_eq!(audio.frames(), want, "fact {fact}");
            let mut stream = DecodeStream::open(f.path()).unwrap();
            let (joined, _) = stream_all(&mut stream);
            assert!(joined == audio.channels, "fact {fact}: stream differs");
            assert_eq!(stream.finish().unwrap().frames, want as u64);
        }
    }

    #[test]
    fn a_skipped_gap_is_hashed_once_the_reader_reads_on() {
        let len = 1_000_000u64;
        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let f = write_temp(&bytes, ".bin");
        for (skip_to, read_to) in [
            (100, 900_000),       // a small skip, then reading on: filled there and then
            (400_000, 900_000),   // a large one, but less than what follows: filled too
            (600_000, 900_000),   // more than what follows: left to `finish`
            (999_840, 1_000_000), // a look at the end, then back to the start
        ] {
            let mut h = HashedFile::new(File::open(f.path()).unwrap(), len, true, true);
            let mut buf = vec![0u8; 32 * 1024];
            h.read_exact(&mut buf[..50]).unwrap();
            h.seek(SeekFrom::Start(skip_to)).unwrap();
            let mut at = skip_to;
            while at < read_to {
                let n = h
                    .read(&mut buf[..(read_to - at).min(32 * 1024) as usize])
                    .unwrap();
                assert_eq!(buf[..n], bytes[at as usize..at as usize + n]);
                at += n as u64;
            }
            let mut by_reader = 50 + (read_to - skip_to);
            if read_to == len {
                h.seek(SeekFrom::Start(0)).unwrap();
                by_reader += io::copy(&mut h, &mut io::sink()).unwrap();
            }
            let (hash, read) = h.finish().unwrap();
            assert_eq!(hash, blake3::hash(&bytes), "skip to {skip_to}");
            // What the hashing read on its own: the tail the reader left, and any gap.
            let by_hash = read - by_reader;
            match skip_to {
                100 | 400_000 => assert!(
                    by_hash <= (len - read_to) + (skip_to - 50) + FILL_AFTER_BYTES,
                    "skip to {skip_to}: {by_hash} bytes"
                ),
                600_000 => assert_eq!(by_hash, len - 50, "finish reads from the gap on"),
                _ => assert_eq!(by_hash, 0, "the look at the end is hashed later, in order"),
            }
        }
    }
}
