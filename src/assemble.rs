//! Assembly: a call's transcribed windows → its [`Transcript`].
//!
//! Each window's raw segments are cut to the speech they came from
//! (`align`: by DTW token times, or whisper's own timestamps), passed
//! through the guards, mapped back onto the recording's timeline and
//! merged across channels by time. Pure: the same windows give the same
//! transcript, whatever order the workers finished them in.

use std::collections::BTreeMap;

use crate::align;
use crate::config::PipelineFile;
use crate::model::{ChannelSpeech, Segment, SpeechSpans, Window, WindowTranscript};
use crate::transcribe::guards;

/// One speaker channel of a call, ready to assemble.
pub struct ChannelParts {
    pub channel: usize,
    pub speaker: String,
    pub speech: SpeechSpans,
    /// The channel's language: given, or detected on its first window;
    /// `None` when the channel had no speech.
    pub language: Option<String>,
    /// The windows in channel order, each with what whisper made of it
    /// (the window's samples are no longer needed, only its pieces).
    pub windows: Vec<(Window, WindowTranscript)>,
}

/// The segments, speech spans and languages of a call.
pub struct Assembled {
    pub segments: Vec<Segment>,
    pub speech: Vec<ChannelSpeech>,
    pub languages: BTreeMap<String, String>,
}

/// Builds a call's segments from its channels' windows.
pub fn assemble(channels: Vec<ChannelParts>, pipeline: &PipelineFile) -> Assembled {
    let mut segments = Vec::new();
    let mut speech = Vec::new();
    let mut languages = BTreeMap::new();
    for parts in channels {
        let language = parts.language.clone();
        if let Some(l) = &language {
            languages.insert(parts.speaker.clone(), l.clone());
        }
        for (window, transcript) in &parts.windows {
            let language = language
                .clone()
                .unwrap_or_else(|| transcript.language.clone());
            segments.extend(
                window_segments(window, transcript, pipeline)
                    .into_iter()
                    .map(|s| {
                        let (start_ms, end_ms) =
                            align::map_segment(window, s.start_window_ms, s.end_window_ms);
                        Segment {
                            start_ms,
                            end_ms,
                            channel: parts.channel,
                            speaker: parts.speaker.clone(),
                            language: language.clone(),
                            text: s.text,
                            avg_logprob: round3(s.avg_logprob),
                            no_speech_prob: round3(s.no_speech_prob),
                        }
                    }),
            );
        }
        speech.push(ChannelSpeech {
            channel: parts.channel,
            speaker: parts.speaker,
            spans: parts.speech.spans,
            talk: Some(parts.speech.talk),
        });
    }
    segments.sort_by_key(|s| (s.start_ms, s.channel, s.end_ms));
    Assembled {
        segments,
        speech,
        languages,
    }
}

/// One window's segments, cut to its pieces and guarded, in window time.
fn window_segments(
    window: &Window,
    transcript: &WindowTranscript,
    pipeline: &PipelineFile,
) -> Vec<crate::model::WindowSegment> {
    for s in &transcript.segments {
        tracing::trace!(
            channel = window.channel,
            start = s.start_window_ms,
            end = s.end_window_ms,
            pieces = ?window.pieces,
            "raw segment: {}",
            s.text
        );
    }
    let cut: Vec<_> = transcript
        .segments
        .iter()
        .cloned()
        .flat_map(|s| {
            if transcript.timed_segments {
                align::split_at_pieces(window, s)
            } else {
                align::segments_from_tokens(window, s)
            }
        })
        .collect();
    let (kept, counts) = guards::apply(cut, &pipeline.guards, &pipeline.whisper);
    if counts != guards::GuardCounts::default() {
        tracing::debug!(?counts, channel = window.channel, "guards removed segments");
    }
    kept
}

fn round3(x: f32) -> f32 {
    if x.is_finite() {
        (x * 1000.0).round() / 1000.0
    } else {
        -99.0
    }
}
