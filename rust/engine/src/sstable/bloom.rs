//! A bloom filter over the user keys of one SSTable, so a point read can skip a table that
//! cannot hold its key without reading any data block.
//!
//! ```text
//! filter := bits[m/8] k:u8          (empty: the table has no filter; everything may match)
//! ```
//!
//! A key sets `k` of the `m` bits, chosen by double hashing from one 64-bit [`hash64`]:
//! probe `i` tests bit `(h + i * delta) mod m` with `delta` derived from `h`. The filter holds
//! user keys, never internal keys, so every version of a key shares one entry and a lookup at
//! any snapshot can use it. The hash and the probe sequence are part of the file format: never
//! change them without a new table format version.

/// Bits per key used when the caller asks for none.
pub const DEFAULT_BITS_PER_KEY: usize = 10;

/// Smallest bit array, so tiny tables do not get a filter that matches everything.
const MIN_BITS: usize = 64;
const MAX_PROBES: u32 = 30;

const PRIME1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME3: u64 = 0x1656_67B1_9E37_79F9;

/// A 64-bit hash of `data` in the style of xxHash64: 8-byte lanes folded with multiply-rotate
/// rounds, the length mixed in first (so `"a"` and `"a\0"` differ), and a murmur3 finalizer so
/// every input bit affects every output bit. Stored filters depend on it: it must never change.
pub fn hash64(data: &[u8]) -> u64 {
    let mut h = PRIME3 ^ (data.len() as u64).wrapping_mul(PRIME1);
    let mut lanes = data.chunks_exact(8);
    for lane in &mut lanes {
        let mut w = [0u8; 8];
        w.copy_from_slice(lane);
        h = fold(h, u64::from_le_bytes(w));
    }
    let rest = lanes.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = fold(h, u64::from_le_bytes(w));
    }
    finalize(h)
}

fn fold(h: u64, lane: u64) -> u64 {
    let lane = lane
        .wrapping_mul(PRIME2)
        .rotate_left(31)
        .wrapping_mul(PRIME1);
    (h ^ lane)
        .rotate_left(27)
        .wrapping_mul(PRIME1)
        .wrapping_add(PRIME2)
}

fn finalize(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Number of probes for `bits_per_key`: about `bits * ln 2`, which minimises false positives.
pub fn probes_for(bits_per_key: usize) -> u32 {
    let k = (bits_per_key as f64 * 0.69).round() as u32;
    k.clamp(1, MAX_PROBES)
}

/// The bit positions `hash` sets in a filter of `m` bits.
fn probe_positions(hash: u64, k: u32, m: u64) -> impl Iterator<Item = u64> {
    // The rotation gives a second, nearly independent hash; `| 1` keeps the step nonzero.
    let delta = hash.rotate_right(21) | 1;
    (0..u64::from(k)).map(move |i| hash.wrapping_add(i.wrapping_mul(delta)) % m)
}

/// Collects key hashes while a table is written, then encodes the filter.
#[derive(Debug)]
pub struct BloomBuilder {
    bits_per_key: usize,
    hashes: Vec<u64>,
}

impl BloomBuilder {
    /// A builder spending `bits_per_key` bits per key; 0 builds no filter.
    pub fn new(bits_per_key: usize) -> BloomBuilder {
        BloomBuilder {
            bits_per_key,
            hashes: Vec::new(),
        }
    }

    /// Adds a user key. The caller adds each distinct key once (versions share an entry).
    pub fn add_key(&mut self, user_key: &[u8]) {
        if self.bits_per_key > 0 {
            self.hashes.push(hash64(user_key));
        }
    }

    /// Encodes the filter (empty when disabled or no key was added).
    pub fn finish(&self) -> Vec<u8> {
        if self.bits_per_key == 0 || self.hashes.is_empty() {
            return Vec::new();
        }
        let bits = (self.hashes.len() * self.bits_per_key).max(MIN_BITS);
        let bytes = bits.div_ceil(8);
        let m = (bytes * 8) as u64;
        let k = probes_for(self.bits_per_key);
        let mut out = vec![0u8; bytes + 1];
        for &h in &self.hashes {
            for bit in probe_positions(h, k, m) {
                out[(bit / 8) as usize] |= 1 << (bit % 8);
            }
        }
        out[bytes] = k as u8;
        out
    }
}

/// A decoded filter.
#[derive(Debug, Clone)]
pub struct BloomFilter {
    /// The bit array; empty means "no filter".
    bits: Vec<u8>,
    k: u32,
}

impl BloomFilter {
    /// Decodes an encoded filter, or says why it is malformed.
    pub fn decode(mut data: Vec<u8>) -> Result<BloomFilter, String> {
        let Some(k) = data.pop() else {
            return Ok(BloomFilter {
                bits: Vec::new(),
                k: 0,
            });
        };
        let k = u32::from(k);
        if k == 0 || k > MAX_PROBES {
            return Err(format!(
                "bloom filter has {k} probes (expected 1..={MAX_PROBES})"
            ));
        }
        if data.is_empty() {
            return Err("bloom filter has no bits".into());
        }
        Ok(BloomFilter { bits: data, k })
    }

    /// False only when `user_key` was certainly not added.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        let m = (self.bits.len() * 8) as u64;
        probe_positions(hash64(user_key), self.k, m)
            .all(|bit| self.bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
    }

    /// Bytes held in memory.
    pub fn size(&self) -> usize {
        self.bits.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_for(keys: impl Iterator<Item = Vec<u8>>, bits: usize) -> BloomFilter {
        let mut b = BloomBuilder::new(bits);
        for k in keys {
            b.add_key(&k);
        }
        BloomFilter::decode(b.finish()).unwrap()
    }

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let present = |i: u32| format!("key-{i:08}").into_bytes();
        let absent = |i: u32| format!("missing-{i:08}").into_bytes();
        let filter = filter_for((0..10_000).map(present), 10);
        assert!((0..10_000).all(|i| filter.may_contain(&present(i))));
        let false_positives = (0..10_000)
            .filter(|&i| filter.may_contain(&absent(i)))
            .count();
        let rate = false_positives as f64 / 10_000.0;
        assert!(rate < 0.02, "false-positive rate {rate}");
        println!(
            "bloom: 10 bits/key, k={}, FP rate {rate:.4}",
            probes_for(10)
        );
    }

    #[test]
    fn sequential_binary_keys_also_spread() {
        // Keys differing only in a big-endian counter, as engines often write.
        let key = |i: u64| i.to_be_bytes().to_vec();
        let filter = filter_for((0..5_000).map(key), 10);
        assert!((0..5_000).all(|i| filter.may_contain(&key(i))));
        let fp = (5_000..15_000)
            .filter(|&i| filter.may_contain(&key(i)))
            .count();
        assert!(fp < 200, "{fp} false positives of 10000");
    }

    #[test]
    fn probes_are_clamped() {
        assert_eq!(probes_for(0), 1);
        assert_eq!(probes_for(1), 1);
        assert_eq!(probes_for(10), 7);
        assert_eq!(probes_for(100), 30);
    }

    #[test]
    fn empty_and_malformed_filters() {
        let none = BloomFilter::decode(Vec::new()).unwrap();
        assert!(none.may_contain(b"anything"));
        assert!(BloomBuilder::new(0).finish().is_empty());
        assert!(BloomBuilder::new(10).finish().is_empty());
        assert!(BloomFilter::decode(vec![0xff, 0]).is_err());
        assert!(BloomFilter::decode(vec![0xff, 31]).is_err());
        assert!(BloomFilter::decode(vec![7]).is_err());
        // A single key still gets a usable 64-bit filter.
        let one = filter_for(std::iter::once(b"k".to_vec()), 10);
        assert_eq!(one.size(), 8);
        assert!(one.may_contain(b"k"));
    }

    #[test]
    fn hash_is_stable_and_length_sensitive() {
        // Pinned values: stored filters depend on the hash never changing.
        assert_ne!(hash64(b"a"), hash64(b"a\0"));
        assert_ne!(hash64(b"abcdefgh"), hash64(b"abcdefgh\0"));
        let pinned = [hash64(b""), hash64(b"strata"), hash64(b"0123456789abcdef!")];
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [u64; 3] = [
        17_622_645_311_363_874_476,
        16_236_787_185_025_566_096,
        8_568_712_557_474_095_761,
    ];
}
