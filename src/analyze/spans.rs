//! Interval arithmetic on one speaker's speech: union, intersection with
//! the other speaker, interruptions and monologues. Half-open `[start, end)`
//! milliseconds throughout.

use crate::model::SpeechSpan;

/// Sorted, non-overlapping, non-empty spans of one speaker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans(Vec<SpeechSpan>);

/// Total length of spans that do not overlap each other.
pub fn total_ms<'a>(spans: impl Iterator<Item = &'a SpeechSpan>) -> u64 {
    spans.map(SpeechSpan::duration_ms).sum()
}

impl Spans {
    /// Sorts and merges spans that overlap or touch; drops empty ones.
    pub fn new(mut spans: Vec<SpeechSpan>) -> Self {
        spans.retain(|s| s.end_ms > s.start_ms);
        spans.sort_by_key(|s| (s.start_ms, s.end_ms));
        let mut merged: Vec<SpeechSpan> = Vec::with_capacity(spans.len());
        for s in spans {
            match merged.last_mut() {
                Some(prev) if s.start_ms <= prev.end_ms => prev.end_ms = prev.end_ms.max(s.end_ms),
                _ => merged.push(s),
            }
        }
        Self(merged)
    }

    pub fn iter(&self) -> impl Iterator<Item = &SpeechSpan> {
        self.0.iter()
    }

    /// Where the last span ends (0 without speech).
    pub fn end_ms(&self) -> u64 {
        self.0.last().map_or(0, |s| s.end_ms)
    }

    /// Time both speak at once.
    pub fn overlap_ms(&self, other: &Spans) -> u64 {
        let (mut i, mut j, mut total) = (0, 0, 0);
        while i < self.0.len() && j < other.0.len() {
            let (a, b) = (self.0[i], other.0[j]);
            let start = a.start_ms.max(b.start_ms);
            let end = a.end_ms.min(b.end_ms);
            total += end.saturating_sub(start);
            if a.end_ms <= b.end_ms {
                i += 1;
            } else {
                j += 1;
            }
        }
        total
    }

    /// How often this speaker starts speaking while `other` is speaking
    /// (the other started strictly earlier and has not stopped), and both
    /// then speak together for at least `min_overlap_ms`: a short "mhm" or a
    /// hand-over clipped by a few frames is not an interruption.
    pub fn interruptions_of(&self, other: &Spans, min_overlap_ms: u64) -> u32 {
        let mut count = 0;
        for s in &self.0 {
            // The other's span that holds this start, if any: spans are
            // sorted and disjoint, so it is the last one starting before it.
            let k = other.0.partition_point(|o| o.start_ms < s.start_ms);
            let Some(o) = k.checked_sub(1).map(|k| other.0[k]) else {
                continue;
            };
            let together = s.end_ms.min(o.end_ms).saturating_sub(s.start_ms);
            if o.end_ms > s.start_ms && together >= min_overlap_ms.max(1) {
                count += 1;
            }
        }
        count
    }

    /// The longest stretch this speaker holds the floor: consecutive spans
    /// joined across their own pauses shorter than `max_pause_ms` in which
    /// the other speaker says nothing; measured from the first span's start
    /// to the last one's end. The other speaking *during* a span (a
    /// backchannel) does not end it; speaking in a pause does.
    pub fn longest_monologue_ms(&self, other: Option<&Spans>, max_pause_ms: u64) -> u64 {
        let mut best = 0;
        let mut run: Option<SpeechSpan> = None;
        for &s in &self.0 {
            run = Some(match run {
                Some(r)
                    if s.start_ms - r.end_ms < max_pause_ms
                        && !other.is_some_and(|o| o.speaks_in(r.end_ms, s.start_ms)) =>
                {
                    SpeechSpan {
                        start_ms: r.start_ms,
                        end_ms: s.end_ms,
                    }
                }
                Some(r) => {
                    best = best.max(r.duration_ms());
                    s
                }
                None => s,
            });
        }
        run.map_or(best, |r| best.max(r.duration_ms()))
    }

    /// Whether any span intersects `[start, end)`.
    fn speaks_in(&self, start: u64, end: u64) -> bool {
        let k = self.0.partition_point(|o| o.end_ms <= start);
        self.0.get(k).is_some_and(|o| o.start_ms < end)
    }
}
