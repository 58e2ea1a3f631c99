//! The CI smoke run of the fuzz targets (`fuzz/`, which needs nightly):
//! a few thousand deterministic mutations of the seed files (bit flips,
//! truncations, splices, lying length fields) through the same entry points
//! `callsift::fuzzing::{decode_bytes, import_bytes}`, none of which may
//! panic. An input that does is saved under target/ to replay.

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Seeds are cut to this: the header and first packets are where parsers
/// break, and it keeps a few thousand decodes within seconds.
const SEED_BYTES: usize = 48 * 1024;

fn seeds(dirs: &[&str], keep: impl Fn(&Path) -> bool) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && keep(p))
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| {
            let mut b = std::fs::read(p).unwrap();
            b.truncate(SEED_BYTES);
            b
        })
        .collect();
    assert!(seeds.len() >= 5, "seed files found in {dirs:?}");
    seeds
}

/// xorshift64*: the same mutations on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seeds[rng.below(seeds.len())].clone();
    match rng.below(5) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
        }
        1 => b.truncate(rng.below(b.len() + 1)),
        2 => {
            let other = &seeds[rng.below(seeds.len())];
            b.truncate(rng.below(b.len() + 1));
            b.extend_from_slice(&other[rng.below(other.len() + 1)..]);
        }
        3 => {
            // A length, count or rate field gone wrong: a random u32 in the
            // header, often one of the extremes.
            if b.len() >= 4 {
                let i = rng.below(b.len().min(96) - 3);
                let v = match rng.below(3) {
                    0 => u32::MAX,
                    1 => 0,
                    _ => rng.next() as u32,
                };
                b[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        _ => {
            let at = rng.below(b.len() + 1);
            let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            b.splice(at..at, junk);
        }
    }
    b
}

fn smoke(name: &str, seeds: &[Vec<u8>], runs: usize, target: fn(&[u8])) {
    let started = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    for seed in seeds {
        target(seed);
    }
    for i in 0..runs {
        let input = mutate(&mut rng, seeds);
        let caught = std::panic::catch_unwind(|| target(&input));
        if caught.is_err() {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let saved = dir.join(format!("fuzz-smoke-{name}-{i}.bin"));
            std::fs::write(&saved, &input).unwrap();
            panic!(
                "{name}: mutation {i} panicked; input saved as {}",
                saved.display()
            );
        }
    }
    eprintln!("{name}: {runs} mutations in {:?}", started.elapsed());
}

#[test]
fn decode_survives_mutated_recordings() {
    let audio = seeds(&["tests/fixtures/audio", "samples"], |p| {
        callsift::decode::is_audio_path(p)
    });
    smoke("decode", &audio, 2000, callsift::fuzzing::decode_bytes);
}

#[test]
fn import_survives_mutated_transcripts() {
    let transcripts = seeds(&["tests/fixtures/import", "samples"], |p| {
        p.extension()
            .is_some_and(|e| ["json", "srt", "vtt", "txt"].iter().any(|x| e == *x))
    });
    smoke(
        "import",
        &transcripts,
        3000,
        callsift::fuzzing::import_bytes,
    );
}
