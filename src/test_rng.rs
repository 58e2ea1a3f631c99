//! xorshift64: deterministic test data without a dependency, shared by the
//! unit tests of the stages.

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A sample in [-1, 1].
    pub fn unit(&mut self) -> f32 {
        (self.next() as f64 / u64::MAX as f64 * 2.0 - 1.0) as f32
    }
}
