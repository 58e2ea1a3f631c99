//! The decoder thread's part of a call: read the file once (hashing it on
//! the way), decode, resample, detect speech and cut windows as the audio
//! arrives, and queue each window as soon as it is complete. Memory is
//! bounded by the window queue and the stages' own small buffers, not by
//! the recording's length.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::channels;
use crate::decode::{AudioInfo, DecodeEnd, DecodeStream};
use crate::error::{Error, Result};
use crate::model::{CallMetadata, SpeechSpans, Window};
use crate::resample::Resampler16k;
use crate::vad::StreamingVad;
use crate::windows::WindowPacker;

use super::Engine;
use super::queue::WindowQueue;

/// Windows of the second channel held back while both channels are still
/// the same signal; past this the call is taken for mono (see `Stereo`).
const HOLD_LIMIT: usize = 4;

/// A call whose windows are all queued.
pub struct Prepared {
    pub info: AudioInfo,
    pub end: DecodeEnd,
    pub metadata: CallMetadata,
    /// The speaker channels (one when the channels are one signal).
    pub channels: Vec<PreparedChannel>,
    pub decode: Duration,
    pub resample: Duration,
    pub vad: Duration,
}

pub struct PreparedChannel {
    pub channel: usize,
    pub speech: SpeechSpans,
    /// Windows queued for the channel (indices `0..windows`).
    pub windows: usize,
}

/// One channel's stages: 16 kHz resampler, speech detector, window packer.
struct Lane {
    channel: usize,
    resampler: Resampler16k,
    vad: StreamingVad,
    packer: WindowPacker,
    pcm: Vec<f32>,
    queued: usize,
    held: Vec<Window>,
    resample: Duration,
    vad_time: Duration,
}

impl Lane {
    fn new(channel: usize, rate: u32, engine: &Engine) -> Result<Self> {
        let pipeline = &engine.pipeline;
        let max_window = engine
            .transcriber
            .max_window_ms()
            .map_or(pipeline.vad.max_window_ms, |m| {
                m.min(pipeline.vad.max_window_ms)
            });
        Ok(Self {
            channel,
            resampler: Resampler16k::new(rate)?,
            vad: StreamingVad::new(&pipeline.vad),
            packer: WindowPacker::new(channel, max_window),
            pcm: Vec::new(),
            queued: 0,
            held: Vec::new(),
            resample: Duration::ZERO,
            vad_time: Duration::ZERO,
        })
    }

    /// Feeds source-rate samples (`None`: the end); returns finished windows.
    fn feed(&mut self, samples: Option<&[f32]>) -> Result<Vec<Window>> {
        let t = Instant::now();
        self.pcm.clear();
        match samples {
            Some(s) => self.resampler.push(s, &mut self.pcm)?,
            None => self.resampler.finish(&mut self.pcm)?,
        }
        self.resample += t.elapsed();
        let t = Instant::now();
        let mut spans = self.vad.push(&self.pcm);
        let mut windows = self.packer.push(&self.pcm, &spans);
        if samples.is_none() {
            spans = self.vad.finish();
            windows.extend(self.packer.push(&[], &spans));
            windows.extend(self.packer.finish());
        }
        self.vad_time += t.elapsed();
        Ok(windows)
    }

    fn finish(self) -> PreparedChannel {
        PreparedChannel {
            channel: self.channel,
            speech: self.vad.into_speech(),
            windows: self.queued,
        }
    }
}

/// Where the call's windows go: the queue, with the language plan.
struct Submit<'a> {
    call: usize,
    queue: &'a WindowQueue,
    /// The language given for every window; `None`: detect per channel.
    language: Option<String>,
}

impl Submit<'_> {
    fn window(&self, lane: &mut Lane, window: Window) {
        let window = Arc::new(window);
        let index = lane.queued;
        if index == 0 && self.language.is_none() {
            self.queue.detect(self.call, lane.channel, window.clone());
        }
        self.queue.push(
            self.call,
            lane.channel,
            index,
            window,
            self.language.clone(),
        );
        lane.queued += 1;
    }
}

/// How a stereo file's second channel is treated. A mono mix saved as
/// stereo is one speaker: while the channels are the same signal the
/// second channel's windows are held back, and once `HOLD_LIMIT` of them
/// were held the second channel is no longer processed (only compared);
/// should it differ after all, it is decoded in a second pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stereo {
    Same,
    SameDropped,
    Different,
    DifferentLate,
}

/// Decodes one recording and queues its windows. `language`: given, or
/// `None` to detect it per channel.
pub fn prepare(
    call: usize,
    path: &Path,
    engine: &Engine,
    queue: &WindowQueue,
    language: Option<String>,
) -> Result<Prepared> {
    let metadata = engine.metadata.resolve(path);
    let submit = Submit {
        call,
        queue,
        language,
    };
    let mut decode = Duration::ZERO;
    let t = Instant::now();
    let mut stream = DecodeStream::open(path)?;
    decode += t.elapsed();
    let info = stream.info().clone();
    let rate = info.sample_rate_hz;
    let mut lanes = (0..info.channels.max(1))
        .map(|c| Lane::new(c, rate, engine))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| with_path(path, e))?;
    let mut stereo = if lanes.len() == 2 {
        Stereo::Same
    } else {
        Stereo::Different
    };
    let mut block = vec![Vec::new(); info.channels];
    loop {
        let t = Instant::now();
        let more = stream.next_block(&mut block)?;
        decode += t.elapsed();
        let same = matches!(stereo, Stereo::Same | Stereo::SameDropped);
        if same && more && !channels::identical(&block[0], &block[1]) {
            stereo = if stereo == Stereo::Same {
                Stereo::Different
            } else {
                Stereo::DifferentLate
            };
            let held = std::mem::take(&mut lanes[1].held);
            for w in held {
                submit.window(&mut lanes[1], w);
            }
        }
        for (i, lane) in lanes.iter_mut().enumerate() {
            let active = i == 0 || matches!(stereo, Stereo::Same | Stereo::Different);
            if !active {
                continue;
            }
            let windows = lane
                .feed(more.then(|| block[i].as_slice()))
                .map_err(|e| with_path(path, e))?;
            for w in windows {
                if i == 1 && stereo == Stereo::Same {
                    lane.held.push(w);
                } else {
                    submit.window(lane, w);
                }
            }
        }
        if stereo == Stereo::Same && lanes[1].held.len() > HOLD_LIMIT {
            lanes[1].held.clear();
            stereo = Stereo::SameDropped;
        }
        if !more {
            break;
        }
    }
    let t = Instant::now();
    let end = stream.finish()?;
    decode += t.elapsed();
    if stereo == Stereo::DifferentLate {
        tracing::debug!(
            "{}: channels differ after a long identical stretch; decoding the second channel again",
            path.display()
        );
        let t = Instant::now();
        lanes[1] = second_channel(path, rate, engine, &submit)?;
        decode += t.elapsed();
    }
    let mono = matches!(stereo, Stereo::Same | Stereo::SameDropped);
    if mono {
        lanes.truncate(1);
    }
    let resample = lanes.iter().map(|l| l.resample).sum();
    let vad = lanes.iter().map(|l| l.vad_time).sum();
    Ok(Prepared {
        info,
        end,
        metadata,
        channels: lanes.into_iter().map(Lane::finish).collect(),
        decode,
        resample,
        vad,
    })
}

/// The second pass over a stereo file for its second channel only.
fn second_channel(path: &Path, rate: u32, engine: &Engine, submit: &Submit) -> Result<Lane> {
    let mut stream = DecodeStream::open(path)?;
    let mut lane = Lane::new(1, rate, engine).map_err(|e| with_path(path, e))?;
    let mut block = vec![Vec::new(); stream.info().channels];
    loop {
        let more = stream.next_block(&mut block)?;
        let windows = lane
            .feed(more.then(|| block[1].as_slice()))
            .map_err(|e| with_path(path, e))?;
        for w in windows {
            submit.window(&mut lane, w);
        }
        if !more {
            break;
        }
    }
    stream.finish()?;
    Ok(lane)
}

/// Resampler errors do not know the file they are about.
fn with_path(path: &Path, e: Error) -> Error {
    match e {
        Error::Resample(m) => Error::decode(path, m),
        other => other,
    }
}
