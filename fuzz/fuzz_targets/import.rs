//! Hostile bytes through `callsift import`, sniffed and in every format.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    callsift::fuzzing::import_bytes(data);
});
