//! The keys and values every engine writes and reads, generated the same way for all of them.
//!
//! Keys are 16 bytes: eight zero bytes, then the key's index as a big-endian `u64`, so index
//! order is key order. A missing key is an existing key with one `0x00` byte appended: it sorts
//! between key `i` and key `i + 1`, so an engine cannot reject it by key range alone (the same
//! trick as LevelDB's `db_bench`). Values are slices of one buffer of pseudo-random bytes, so
//! block compression gains nothing and every engine stores the same bytes.
//!
//! Nothing here may depend on the engine under test.

/// Length of every existing key.
pub const KEY_LEN: usize = 16;

/// A small, fast, deterministic generator (xorshift64*). Not for anything but benchmarks.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's one fixed point.
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`); the modulo bias is irrelevant at benchmark sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The data set: `keys` keys, each with a value of `value_size` bytes.
pub struct Data {
    pub keys: u64,
    pub value_size: usize,
    /// Random bytes that values are cut from; longer than one value so values differ.
    pool: Vec<u8>,
}

const POOL_LEN: usize = 1 << 20;

impl Data {
    pub fn new(keys: u64, value_size: usize) -> Data {
        let mut rng = Rng::new(0x5eed_0f57_47a1);
        let mut pool = Vec::with_capacity(POOL_LEN + value_size + 8);
        while pool.len() < POOL_LEN + value_size {
            pool.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        Data {
            keys,
            value_size,
            pool,
        }
    }

    /// The key with index `i`.
    pub fn key(&self, i: u64) -> [u8; KEY_LEN] {
        let mut k = [0u8; KEY_LEN];
        k[8..].copy_from_slice(&i.to_be_bytes());
        k
    }

    /// A key that no engine holds, sorting just after key `i`.
    pub fn missing_key(&self, i: u64) -> [u8; KEY_LEN + 1] {
        let mut k = [0u8; KEY_LEN + 1];
        k[..KEY_LEN].copy_from_slice(&self.key(i));
        k
    }

    /// The value stored under key `i`.
    pub fn value(&self, i: u64) -> &[u8] {
        // A multiplicative hash spreads neighbouring keys over the pool.
        let start = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 44) as usize % POOL_LEN;
        &self.pool[start..start + self.value_size]
    }

    /// Bytes of one entry (key and value), the unit of the MB/s column.
    pub fn entry_bytes(&self) -> u64 {
        (KEY_LEN + self.value_size) as u64
    }

    /// Every index `0..keys` once, in a seeded random order (Fisher-Yates).
    pub fn shuffled(&self, seed: u64) -> Vec<u64> {
        let mut order: Vec<u64> = (0..self.keys).collect();
        let mut rng = Rng::new(seed);
        for i in (1..order.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_index_and_missing_keys_fall_between() {
        let d = Data::new(10, 100);
        assert!(d.key(1) < d.key(2));
        assert!(d.key(255) < d.key(256));
        assert!(d.key(3)[..] < d.missing_key(3)[..]);
        assert!(d.missing_key(3)[..] < d.key(4)[..]);
    }

    #[test]
    fn values_are_deterministic_and_not_constant() {
        let d = Data::new(10, 100);
        assert_eq!(d.value(7), Data::new(10, 100).value(7));
        assert_ne!(d.value(7), d.value(8));
        assert!(d.value(7).iter().any(|&b| b != d.value(7)[0]));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut order = Data::new(1000, 8).shuffled(1);
        order.sort_unstable();
        assert_eq!(order, (0..1000).collect::<Vec<_>>());
    }
}
