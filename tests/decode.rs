//! Decoder tests over the committed fixtures in tests/fixtures/audio/ (made by
//! tests/fixtures/make_audio.sh): every supported format decodes to the right codec name,
//! rate, channel count, length and tone per channel; every hostile file fails with a
//! decode error that names the file and the reason; truncated files give the audio up to
//! the break with a warning.

use std::path::{Path, PathBuf};

use callsift::Error;
use callsift::decode::{
    self, AudioInfo, DecodeEnd, DecodeStream, decode_file, decode_file_with_stats, probe_info,
};
use callsift::model::DecodedAudio;
use callsift::{pipeline, resample};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

fn decode_fixture(name: &str) -> DecodedAudio {
    decode_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// Frequency from zero crossings over the middle half of `x`, with hysteresis so
/// quantisation noise around zero (u8, µ-law, ADPCM) does not count as crossings.
fn tone_hz(x: &[f32], rate: u32) -> f32 {
    let mid = &x[x.len() / 4..3 * x.len() / 4];
    let threshold = 0.1 * peak(mid);
    let mut state = 0i8;
    let mut crossings = 0usize;
    let (mut first, mut last) = (None, 0usize);
    for (i, &v) in mid.iter().enumerate() {
        let s = if v > threshold {
            1
        } else if v < -threshold {
            -1
        } else {
            continue;
        };
        if s != state {
            if state != 0 {
                crossings += 1;
                first.get_or_insert(i);
                last = i;
            }
            state = s;
        }
    }
    // Measure between the first and last crossing so partial periods do not bias it.
    let span = (last - first.unwrap_or(last)) as f32 / rate as f32;
    if crossings < 2 || span == 0.0 {
        return 0.0;
    }
    (crossings - 1) as f32 / 2.0 / span
}

struct Expect {
    file: &'static str,
    codec: &'static str,
    rate: u32,
    /// Tone per channel in Hz; `None` for speech.
    tones: Option<&'static [f32]>,
    seconds: f64,
    /// Allowed duration error: lossy codecs add priming and padding.
    tolerance: f64,
}

const STEREO: &[f32] = &[440.0, 1000.0];

const SUPPORTED: &[Expect] = &[
    Expect {
        file: "wav_u8_11k_mono.wav",
        codec: "pcm_u8",
        rate: 11_025,
        tones: Some(&[440.0]),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_s16_8k_stereo.wav",
        codec: "pcm_s16le",
        rate: 8_000,
        tones: Some(STEREO),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_s16_16k_mono_speech.wav",
        codec: "pcm_s16le",
        rate: 16_000,
        tones: None,
        seconds: 1.1,
        tolerance: 0.3,
    },
    Expect {
        file: "wav_s24_8k_mono.wav",
        codec: "pcm_s24le",
        rate: 8_000,
        tones: Some(&[1000.0]),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_s32_8k_mono.wav",
        codec: "pcm_s32le",
        rate: 8_000,
        tones: Some(&[440.0]),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_f32_8k_mono.wav",
        codec: "pcm_f32le",
        rate: 8_000,
        tones: Some(&[1000.0]),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_mulaw_8k_stereo.wav",
        codec: "pcm_mulaw",
        rate: 8_000,
        tones: Some(STEREO),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_alaw_8k_mono.wav",
        codec: "pcm_alaw",
        rate: 8_000,
        tones: Some(&[440.0]),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_ima_adpcm_22k_mono.wav",
        codec: "adpcm_ima",
        rate: 22_050,
        tones: Some(&[1000.0]),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_extensible_s24_8k_stereo.wav",
        codec: "pcm_s24le",
        rate: 8_000,
        tones: Some(STEREO),
        seconds: 0.8,
        tolerance: 0.001,
    },
    Expect {
        file: "wav_s16_8k_3ch.wav",
        codec: "pcm_s16le",
        rate: 8_000,
        tones: Some(&[440.0, 1000.0, 2000.0]),
        seconds: 0.5,
        tolerance: 0.001,
    },
    Expect {
        file: "mp3_44k_stereo.mp3",
        codec: "mp3",
        rate: 44_100,
        tones: Some(STEREO),
        seconds: 1.0,
        tolerance: 0.06,
    },
    Expect {
        file: "mp3_32k_mono.mp3",
        codec: "mp3",
        rate: 32_000,
        tones: Some(&[1000.0]),
        seconds: 1.0,
        tolerance: 0.06,
    },
    Expect {
        file: "flac_44k_mono.flac",
        codec: "flac",
        rate: 44_100,
        tones: Some(&[440.0]),
        seconds: 1.0,
        tolerance: 0.001,
    },
    Expect {
        file: "vorbis_22k_mono.ogg",
        codec: "vorbis",
        rate: 22_050,
        tones: Some(&[1000.0]),
        seconds: 1.0,
        tolerance: 0.03,
    },
    // symphonia ignores MP4 edit lists, so AAC's 1024 priming frames stay in.
    Expect {
        file: "aac_48k_stereo.m4a",
        codec: "aac",
        rate: 48_000,
        tones: Some(STEREO),
        seconds: 1.0,
        tolerance: 0.05,
    },
];

#[test]
fn supported_fixtures_decode_with_the_right_shape_and_content() {
    for e in SUPPORTED {
        let (audio, stats) = decode_file_with_stats(&fixture(e.file)).unwrap();
        let name = e.file;
        assert_eq!(stats.corrupt_packets, 0, "{name}");
        assert_eq!(stats.gap_frames, 0, "{name}");
        assert_eq!(audio.codec, e.codec, "{name}");
        assert_eq!(audio.sample_rate_hz, e.rate, "{name}");
        assert_eq!(audio.truncated, None, "{name}");
        let frames = audio.frames();
        assert!(
            audio.channels.iter().all(|c| c.len() == frames),
            "{name}: ragged channels"
        );
        let secs = frames as f64 / f64::from(e.rate);
        assert!(
            (secs - e.seconds).abs() <= e.tolerance,
            "{name}: {secs} s, expected {} ± {}",
            e.seconds,
            e.tolerance
        );

        for (i, ch) in audio.channels.iter().enumerate() {
            assert!(
                ch.iter().all(|v| (-1.0..=1.0).contains(v)),
                "{name}: channel {i} out of range"
            );
            assert!(rms(ch) > 0.02, "{name}: channel {i} is silent");
        }

        match e.tones {
            Some(tones) => {
                assert_eq!(audio.channels.len(), tones.len(), "{name}: channel count");
                for (i, (ch, &want)) in audio.channels.iter().zip(tones).enumerate() {
                    // Fixtures are sines of amplitude 0.5: RMS 0.354 (±1.5 dB for lossy codecs).
                    let level = rms(&ch[ch.len() / 4..3 * ch.len() / 4]);
                    assert!(
                        (0.3..=0.42).contains(&level),
                        "{name}: channel {i} rms {level}"
                    );
                    let got = tone_hz(ch, e.rate);
                    assert!(
                        (got - want).abs() <= want * 0.02,
                        "{name}: channel {i} tone {got} Hz, expected {want} Hz"
                    );
                }
            }
            None => assert_eq!(audio.channels.len(), 1, "{name}: channel count"),
        }
    }
}

#[test]
fn stereo_channels_are_kept_apart() {
    for name in [
        "wav_s16_8k_stereo.wav",
        "wav_mulaw_8k_stereo.wav",
        "wav_extensible_s24_8k_stereo.wav",
        "mp3_44k_stereo.mp3",
        "aac_48k_stereo.m4a",
    ] {
        let audio = decode_fixture(name);
        let [left, right] = &audio.channels[..] else {
            panic!("{name}: {} channels", audio.channels.len());
        };
        let diff: Vec<f32> = left.iter().zip(right).map(|(l, r)| l - r).collect();
        assert!(rms(&diff) > 0.2, "{name}: left and right are the same");
    }
}

#[test]
fn probe_info_agrees_with_decode() {
    for e in SUPPORTED {
        let (codec, rate, channels) =
            probe_info(&fixture(e.file)).unwrap_or_else(|err| panic!("{}: {err}", e.file));
        let audio = decode_fixture(e.file);
        assert_eq!(codec, audio.codec, "{}", e.file);
        assert_eq!(rate, audio.sample_rate_hz, "{}", e.file);
        assert_eq!(channels, audio.channels.len(), "{}", e.file);
    }
}

#[test]
fn decoded_fixtures_resample_to_16k() {
    for e in SUPPORTED {
        let audio = decode_fixture(e.file);
        let pcm = resample::to_16k(&audio.channels[0], audio.sample_rate_hz).unwrap();
        let want = resample::output_len(audio.frames(), audio.sample_rate_hz);
        assert_eq!(pcm.samples().len(), want, "{}", e.file);
        if let Some(tones) = e.tones {
            let got = tone_hz(pcm.samples(), 16_000);
            assert!(
                (got - tones[0]).abs() <= tones[0] * 0.02,
                "{}: {got} Hz after resampling",
                e.file
            );
        }
    }
}

/// Asserts a decode error for `name` whose message is `<path>: <reason>`.
fn assert_decode_error(name: &str, reason: &str) {
    let path = fixture(name);
    let err = decode_file(&path).expect_err(name);
    assert!(
        matches!(err, Error::Decode { .. }),
        "{name}: wrong kind {err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("{}: {reason}", path.display()),
        "{name}"
    );
}

#[test]
fn hostile_fixtures_fail_with_a_named_reason() {
    assert_decode_error(
        "gsm_8k.wav",
        "unsupported codec: gsm 6.10 (format tag 0x0031)",
    );
    assert_decode_error("opus_48k.opus", "unsupported codec: opus");
    assert_decode_error("empty.wav", "empty file");
    assert_decode_error("text.wav", "not a recognised audio file");
    assert_decode_error("random.mp3", "not a recognised audio file");
    assert_decode_error(
        "truncated_header_only.wav",
        "truncated: no audio before the file ends",
    );
    assert_decode_error(
        "truncated_header.flac",
        "truncated: no audio before the file ends",
    );
}

#[test]
fn probe_info_rejects_what_decode_rejects() {
    for name in [
        "gsm_8k.wav",
        "opus_48k.opus",
        "empty.wav",
        "text.wav",
        "random.mp3",
    ] {
        let err = probe_info(&fixture(name)).expect_err(name);
        let full = decode_file(&fixture(name)).unwrap_err();
        assert_eq!(err.to_string(), full.to_string(), "{name}");
    }
}

#[test]
fn wav_truncated_mid_data_keeps_the_audio_before_the_break() {
    let full = decode_fixture("wav_s16_8k_stereo.wav");
    let cut = decode_fixture("truncated_mid.wav");
    assert_eq!(cut.codec, "pcm_s16le");
    assert_eq!(cut.channels.len(), 2);
    // 19201 data bytes: 4800 whole stereo frames and one stray byte.
    assert_eq!(cut.frames(), 4800);
    assert_eq!(cut.channels[0][..], full.channels[0][..4800]);
    assert_eq!(cut.channels[1][..], full.channels[1][..4800]);
    let warning = cut.truncated.expect("truncation warning");
    assert!(warning.starts_with("truncated after 0.60 s: "), "{warning}");
    assert!(warning.contains("claims 32000 bytes"), "{warning}");
}

#[test]
fn mp3_truncated_midway_keeps_the_audio_before_the_break() {
    let full = decode_fixture("mp3_44k_stereo.mp3");
    let cut = decode_fixture("truncated_mid.mp3");
    assert_eq!(cut.codec, "mp3");
    assert_eq!(cut.sample_rate_hz, 44_100);
    assert_eq!(cut.channels.len(), 2);
    let secs = cut.frames() as f64 / 44_100.0;
    assert!((0.35..0.6).contains(&secs), "{secs} s");
    assert!(cut.frames() < full.frames());
    let warning = cut.truncated.expect("truncation warning");
    assert!(warning.starts_with("truncated after 0."), "{warning}");
    assert!((tone_hz(&cut.channels[0], 44_100) - 440.0).abs() < 10.0);
    assert!((tone_hz(&cut.channels[1], 44_100) - 1000.0).abs() < 20.0);
}

/// Deterministic bytes for damage tests (xorshift64).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

fn temp_with(bytes: &[u8], suffix: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new().suffix(suffix).tempfile().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    f
}

/// `name` with 200 bytes of noise written `at` (a fraction of the length) into it.
fn damaged_copy(name: &str, at: f64, seed: u64) -> tempfile::NamedTempFile {
    let mut bytes = std::fs::read(fixture(name)).unwrap();
    let from = (bytes.len() as f64 * at) as usize;
    bytes[from..from + 200].copy_from_slice(&noise(200, seed));
    let ext = Path::new(name).extension().unwrap().to_str().unwrap();
    temp_with(&bytes, &format!(".{ext}"))
}

#[test]
fn corrupt_packets_in_the_middle_are_skipped_and_timing_is_kept() {
    // (fixture, where to damage, noise seed, exact frames expected)
    for (name, at, seed, frames) in [
        // The FLAC reader drops the damaged frame; its timestamps reveal the hole.
        ("flac_44k_mono.flac", 0.5, 1, 44_100),
        // Damaged IMA block headers fail to decode.
        ("wav_ima_adpcm_22k_mono.wav", 0.6, 1, 22_050),
        // Damaged AAC frames fail to decode (1024 priming frames stay in, see above).
        ("aac_48k_stereo.m4a", 0.6, 1, 49_152),
    ] {
        let f = damaged_copy(name, at, seed);
        let (audio, stats) =
            decode_file_with_stats(f.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(audio.truncated, None, "{name}");
        assert!(stats.gap_frames > 0, "{name}: nothing filled: {stats:?}");
        // Silence stands in for the lost audio, so the length (and every later time) holds.
        assert_eq!(audio.frames(), frames, "{name}: {stats:?}");
        assert!(rms(&audio.channels[0]) > 0.2, "{name}");
    }
}

#[test]
fn damaged_mp3_frames_are_not_fatal() {
    // The MP3 reader resynchronises past damage without reporting it; no timestamps
    // reveal the lost frame, so only the length shrinks a little.
    let f = damaged_copy("mp3_44k_stereo.mp3", 0.5, 1);
    let (audio, stats) = decode_file_with_stats(f.path()).unwrap();
    let secs = audio.frames() as f64 / 44_100.0;
    assert!((0.95..=1.0).contains(&secs), "{secs} s, {stats:?}");
    assert_eq!(audio.truncated, None);
    assert!(stats.packets > 30, "{stats:?}");
}

/// The reason `src/decode.rs` gives a panic it caught inside the decoder
/// (`decoder crashed: <panic message>`).
const CRASH_REASON: &str = "decoder crashed";

/// Asserts that `err` is an ordinary refusal of the file at `path`: a decode error naming
/// it, with a reason, and not a panic caught inside the decoder. (The decoder turns every
/// panic into a decode error, so "it returned an error" alone would prove nothing.)
fn assert_refused_not_crashed(err: &Error, path: &Path, what: &str) {
    match err {
        Error::Decode {
            path: named,
            reason,
        } => {
            assert_eq!(named, path, "{what}: the error names another file: {err}");
            assert!(!reason.is_empty(), "{what}: no reason given");
            assert!(
                !reason.contains(CRASH_REASON) && !reason.contains("panic"),
                "{what}: the decoder crashed: {reason}"
            );
        }
        other => panic!("{what}: wrong kind {other:?}"),
    }
}

#[test]
fn random_bytes_never_panic_and_are_not_audio() {
    for (i, ext) in ["wav", "mp3", "flac", "ogg", "m4a", "aac", "opus"]
        .iter()
        .cycle()
        .take(28)
        .enumerate()
    {
        let bytes = noise(1000 + 997 * i, i as u64 + 1);
        let f = temp_with(&bytes, &format!(".{ext}"));
        match decode_file(f.path()) {
            Err(e) => assert_refused_not_crashed(&e, f.path(), &format!("random .{ext} #{i}")),
            Ok(audio) => panic!("random .{ext} #{i}: decoded as {}", audio.codec),
        }
    }
}

#[test]
fn damaged_headers_never_panic() {
    // Every prefix of a few real files, and the files with a byte flipped near the start:
    // each must give Ok or a decode error naming the file, never another error kind and
    // never a panic (which the decoder would turn into a "decoder crashed" error).
    for name in [
        "wav_s16_8k_stereo.wav",
        "wav_ima_adpcm_22k_mono.wav",
        "mp3_32k_mono.mp3",
        "flac_44k_mono.flac",
        "vorbis_22k_mono.ogg",
        "aac_48k_stereo.m4a",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        let mut variants: Vec<Vec<u8>> = (1..bytes.len().min(600))
            .step_by(7)
            .map(|n| bytes[..n].to_vec())
            .collect();
        for at in (0..bytes.len().min(400)).step_by(13) {
            let mut v = bytes.clone();
            v[at] ^= 0xa5;
            variants.push(v);
        }
        for v in variants {
            let f = temp_with(&v, &format!(".{ext}"));
            if let Err(e) = decode_file(f.path()) {
                assert_refused_not_crashed(&e, f.path(), &format!("{name} ({} bytes)", v.len()));
            }
        }
    }
}

#[test]
fn audio_extensions_are_case_insensitive() {
    assert!(decode::is_audio_path(Path::new("a/b/Call.WAV")));
    assert!(decode::is_audio_path(Path::new("x.m4a")));
    assert!(!decode::is_audio_path(Path::new("notes.txt")));
    assert!(!decode::is_audio_path(Path::new("wav")));
}

/// Every fixture that decodes: the supported ones and the two cut short.
fn decodable() -> impl Iterator<Item = &'static str> {
    SUPPORTED
        .iter()
        .map(|e| e.file)
        .chain(["truncated_mid.wav", "truncated_mid.mp3"])
}

/// Decodes `path` block by block: what it holds, every block, and how it ended.
fn stream(path: &Path) -> (AudioInfo, Vec<Vec<Vec<f32>>>, DecodeEnd) {
    let name = path.display();
    let mut s = DecodeStream::open(path).unwrap_or_else(|e| panic!("{e}"));
    let info = s.info().clone();
    let mut blocks = Vec::new();
    let mut block = vec![Vec::new(); info.channels];
    while s.next_block(&mut block).unwrap_or_else(|e| panic!("{e}")) {
        blocks.push(block.clone());
    }
    assert!(block.iter().all(Vec::is_empty), "{name}: a last block");
    assert!(
        !s.next_block(&mut block).unwrap(),
        "{name}: the end did not stay"
    );
    (info, blocks, s.finish().unwrap())
}

#[test]
fn streamed_blocks_are_the_decoded_file() {
    for name in decodable() {
        let audio = decode_fixture(name);
        let (info, blocks, end) = stream(&fixture(name));
        let want = AudioInfo {
            codec: audio.codec.clone(),
            sample_rate_hz: audio.sample_rate_hz,
            channels: audio.channels.len(),
        };
        assert_eq!(info, want, "{name}");
        let mut joined = vec![Vec::new(); info.channels];
        for block in &blocks {
            let n = block[0].len();
            assert!(
                n > 0 && n <= info.sample_rate_hz as usize,
                "{name}: a block of {n} frames"
            );
            for (all, ch) in joined.iter_mut().zip(block) {
                assert_eq!(ch.len(), n, "{name}: ragged block");
                all.extend_from_slice(ch);
            }
        }
        assert!(
            joined == audio.channels,
            "{name}: blocks differ from decode_file"
        );
        assert_eq!(end.frames, audio.frames() as u64, "{name}");
        assert_eq!(end.truncated, audio.truncated, "{name}");
    }
}

#[test]
fn a_stream_fails_to_open_as_decode_file_fails() {
    for name in [
        "gsm_8k.wav",
        "opus_48k.opus",
        "empty.wav",
        "text.wav",
        "random.mp3",
        "truncated_header_only.wav",
        "truncated_header.flac",
    ] {
        let err = DecodeStream::open(&fixture(name)).err().expect(name);
        let full = decode_file(&fixture(name)).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{name}: {err:?}");
        assert_eq!(err.to_string(), full.to_string(), "{name}");
    }
}

/// Bytes a decoder reads twice from a file it reads straight through: the first few
/// header bytes (sniffed, then read by symphonia) and the 160 bytes at the end that
/// symphonia's probe looks at for tags.
const REREAD_SLACK: u64 = 512;

#[test]
fn the_stream_hashes_the_file_while_decoding_it() {
    for name in decodable() {
        let path = fixture(name);
        let bytes = std::fs::read(&path).unwrap();
        let (_, _, end) = stream(&path);
        assert_eq!(end.hash, blake3::hash(&bytes), "{name}");
        assert_eq!(end.hash, pipeline::content_hash(&path).unwrap(), "{name}");
        // The point of hashing here: the file is read once. (symphonia's MP4 and Ogg
        // readers go back and forth on their own, to the index or the last page.)
        let ext = Path::new(name).extension().unwrap();
        if ext == "wav" || ext == "mp3" || ext == "flac" {
            let len = bytes.len() as u64;
            assert!(
                end.bytes_read <= len + REREAD_SLACK,
                "{name}: {} bytes read for {len}",
                end.bytes_read
            );
        }
    }
}

/// A RIFF chunk with `len` bytes of filler.
fn riff_chunk(id: &[u8; 4], len: usize) -> Vec<u8> {
    let mut c = id.to_vec();
    c.extend_from_slice(&(len as u32).to_le_bytes());
    c.extend(noise(len, len as u64));
    if len % 2 == 1 {
        c.push(0);
    }
    c
}

/// The 8 kHz stereo WAV fixture (a 44-byte header) with its data repeated `repeat`
/// times, and `before` / `after` put around the data chunk.
fn wav_around_data(before: &[u8], repeat: usize, after: &[u8]) -> Vec<u8> {
    let wav = std::fs::read(fixture("wav_s16_8k_stereo.wav")).unwrap();
    assert_eq!(&wav[36..40], b"data");
    let data = wav[44..].repeat(repeat);
    let mut b = wav[..36].to_vec();
    b.extend_from_slice(before);
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    b.extend_from_slice(after);
    let riff_len = (b.len() - 8) as u32;
    b[4..8].copy_from_slice(&riff_len.to_le_bytes());
    b
}

#[test]
fn the_hash_covers_what_the_decoder_skips_or_never_reads() {
    let ogg = std::fs::read(fixture("vorbis_22k_mono.ogg")).unwrap();
    let data = 30 * 32_000;
    // (what, file, extension, frames of audio, the most that may be read beyond the
    // file's length)
    let cases = [
        // The decoder stops at the end of the data; the rest is read for the hash alone.
        (
            "a chunk after the data",
            wav_around_data(&[], 1, &riff_chunk(b"LIST", 200_000)),
            "wav",
            8000,
            REREAD_SLACK,
        ),
        // symphonia seeks over chunks of more than 128 KiB: the skipped bytes are read
        // for the hash once it reads on, so what follows is still hashed as it is read.
        (
            "a skipped chunk",
            wav_around_data(&riff_chunk(b"junk", 200_000), 30, &[]),
            "wav",
            30 * 8000,
            REREAD_SLACK + 128 * 1024,
        ),
        (
            "a skipped chunk larger than the gaps always filled",
            wav_around_data(&riff_chunk(b"junk", 400_000), 30, &[]),
            "wav",
            30 * 8000,
            REREAD_SLACK + 128 * 1024,
        ),
        // Larger than what follows: reading it at once could be wasted (MP4 skips its
        // audio for the index at the end, then comes back), so `finish` reads it and
        // the data again, which is the smaller risk.
        (
            "a skipped chunk larger than the audio after it",
            wav_around_data(&riff_chunk(b"junk", 2_000_000), 30, &[]),
            "wav",
            30 * 8000,
            REREAD_SLACK + 128 * 1024 + data,
        ),
        // Decoding stops at a second chained stream, which is never decoded.
        (
            "a chained ogg stream",
            [&ogg[..], &ogg[..]].concat(),
            "ogg",
            22_050,
            u64::MAX,
        ),
    ];
    for (what, bytes, ext, frames, slack) in cases {
        let f = temp_with(&bytes, &format!(".{ext}"));
        let (_, _, end) = stream(f.path());
        assert_eq!(end.hash, blake3::hash(&bytes), "{what}");
        let len = bytes.len() as u64;
        assert!(
            end.bytes_read <= len.saturating_add(slack),
            "{what}: {} bytes read for {len}",
            end.bytes_read
        );
        assert_eq!(end.frames, frames, "{what}");
        let note = end.truncated.unwrap_or_default();
        assert_eq!(
            note.contains("chained stream"),
            ext == "ogg",
            "{what}: {note}"
        );
    }
}

#[test]
fn damaged_files_stream_without_crashing_and_hash_right() {
    // Prefixes and flipped bytes of a few real files, as in `damaged_headers_never_panic`:
    // each opens or fails with a decode error that is not a caught crash, decodes to the
    // end or fails the same way, and hashes to the file's BLAKE3 whenever it opened.
    for name in [
        "wav_s16_8k_stereo.wav",
        "mp3_32k_mono.mp3",
        "flac_44k_mono.flac",
        "vorbis_22k_mono.ogg",
        "aac_48k_stereo.m4a",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        let step = bytes.len() / 25;
        let mut variants: Vec<Vec<u8>> = (1..bytes.len())
            .step_by(step)
            .map(|n| bytes[..n].to_vec())
            .collect();
        for at in (0..bytes.len()).step_by(step) {
            let mut v = bytes.clone();
            v[at] ^= 0xa5;
            variants.push(v);
        }
        for v in variants {
            let f = temp_with(&v, &format!(".{ext}"));
            let not_a_crash = |e: &Error| match e {
                Error::Decode { reason, .. } => assert!(
                    !reason.starts_with("decoder crashed"),
                    "{name} ({} bytes): {reason}",
                    v.len()
                ),
                other => panic!("{name}: wrong kind {other:?}"),
            };
            let mut s = match DecodeStream::open(f.path()) {
                Ok(s) => s,
                Err(e) => {
                    not_a_crash(&e);
                    continue;
                }
            };
            let mut block = vec![Vec::new(); s.info().channels];
            loop {
                match s.next_block(&mut block) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        not_a_crash(&e);
                        break;
                    }
                }
            }
            assert_eq!(s.finish().unwrap().hash, blake3::hash(&v), "{name}");
        }
    }
}
