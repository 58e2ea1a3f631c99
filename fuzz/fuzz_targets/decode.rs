//! Hostile bytes through decode and the resampler behind it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    callsift::fuzzing::decode_bytes(data);
});
