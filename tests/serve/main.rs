//! `callsift serve` end to end: the binary serves output the pipeline made
//! with the trained `tiny.en` from a real recording (the demo's English
//! call, G.711 µ-law, so playback goes through the transcoder), and the
//! tests talk to it over HTTP (`api`) and drive the page in headless
//! Chromium (`browser`).

#[path = "../common/mod.rs"]
mod common;

mod api;
mod browser;
mod fixture;
mod http;
