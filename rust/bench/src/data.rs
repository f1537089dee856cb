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

    /// The key index of the `j`-th write of fillrandom: every index `0..keys` once, in a
    /// scattered order (see [`permute`]). The Go harness (go/bench) computes the same order.
    pub fn fill_order(&self, j: u64) -> u64 {
        permute(j, self.keys, FILL_ORDER_SEED)
    }

    /// The key index the `j`-th operation of a read workload uses: uniformly random, repeats
    /// allowed, the same for every engine, thread count and harness (go/bench has the same).
    pub fn target(&self, seed: u64, j: u64) -> u64 {
        splitmix64(seed.wrapping_add(j)) % self.keys
    }
}

/// Seeds of the computed orders, shared with go/bench.
pub const FILL_ORDER_SEED: u64 = 0xf111;
pub const READ_SEED: u64 = 0xb0b;
pub const MISSING_SEED: u64 = 0xa11ce;
pub const SCAN_SEED: u64 = 0x5ca7;
pub const MIX_SEED: u64 = 0x313;

/// The finalizer of SplitMix64: a bijection on `u64` that scrambles every bit.
pub fn splitmix64(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A bijection on `0..n` seeded by `seed`, computed rather than stored (a stored permutation
/// of 10M keys is 80 MB). It mixes within the smallest power of two covering `n` (odd
/// multiplications and right xor-shifts are each bijective modulo a power of two) and walks the
/// cycle until the result falls below `n`: under two steps on average, because `n` is more
/// than half that power of two.
pub fn permute(mut x: u64, n: u64, seed: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let bits = (1..64).find(|&b| 1u64 << b >= n).unwrap_or(64);
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let shift = bits / 2 + 1;
    loop {
        x = x.wrapping_add(seed) & mask;
        x ^= x >> shift;
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15) & mask;
        x ^= x >> shift;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9) & mask;
        x ^= x >> shift;
        if x < n {
            return x;
        }
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
    fn fill_order_is_a_permutation() {
        for n in [1, 2, 3, 5, 64, 100, 1000, 4097, 50_000] {
            let d = Data::new(n, 8);
            let mut order: Vec<u64> = (0..n).map(|j| d.fill_order(j)).collect();
            order.sort_unstable();
            assert_eq!(order, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }

    /// go/bench's TestKeyspaceMatchesRustBench checks the same constants, so strata through
    /// Go and strata native write the same bytes in the same order.
    #[test]
    fn values_and_orders_match_the_go_harness() {
        let d = Data::new(1000, 100);
        let hex: String = d.value(12345)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, "06e273a1952d343a9bdfd68a089f4e2d");
        let order: Vec<u64> = (0..8).map(|j| d.fill_order(j)).collect();
        assert_eq!(order, [594, 344, 430, 860, 12, 27, 785, 754]);
    }
}
