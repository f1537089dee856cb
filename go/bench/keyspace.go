package bench

import "encoding/binary"

// The data every engine writes and reads, generated exactly as rust/bench/src/data.rs does, so
// strata through Go and strata native store the same bytes in the same order.
//
// Keys are 16 bytes: eight zero bytes, then the key's index as a big-endian uint64, so index
// order is key order. A missing key is an existing key with one zero byte appended: it sorts
// between key i and key i+1, so no engine can reject it by key range alone. Values are slices
// of one buffer of pseudo-random bytes, so block compression gains nothing.
//
// Orders are computed, never stored: a stored permutation of 10M keys would add 80 MB to the
// process whose memory the bench reports.

// KeySize is the length of every existing key.
const KeySize = 16

// valuePoolSize is the length of the random buffer values are cut from.
const valuePoolSize = 1 << 20

// Seeds and constants shared with rust/bench/src/data.rs.
const (
	fillOrderSeed      = 0xf111
	readSeed           = 0xb0b
	missingSeed        = 0xa11ce
	scanSeed           = 0x5ca7
	mixSeed            = 0x313
	valuePoolSeed      = 0x5eed_0f57_47a1
	xorshiftMultiplier = 0x2545_f491_4f6c_dd1d
)

// Seeds of the Go-only workloads (rust/bench has none of them): the keys readwhilewriting's
// writer puts, seekprev seeks to, and txnrmw's transactions increment.
const (
	rwwSeed      = 0x77_1e
	seekPrevSeed = 0x5ee_4b
	txnSeed      = 0x7a_c7
)

// Keyspace is the data set: Keys keys, each with a value of ValueSize bytes.
type Keyspace struct {
	Keys      int
	ValueSize int
	pool      []byte
}

// NewKeyspace builds the value pool (1 MiB plus one value).
func NewKeyspace(keys, valueSize int) *Keyspace {
	state := uint64(valuePoolSeed)
	pool := make([]byte, 0, valuePoolSize+valueSize+8)
	for len(pool) < valuePoolSize+valueSize {
		// xorshift64*, as rust/bench's Rng.
		state ^= state >> 12
		state ^= state << 25
		state ^= state >> 27
		pool = binary.LittleEndian.AppendUint64(pool, state*xorshiftMultiplier)
	}
	return &Keyspace{Keys: keys, ValueSize: valueSize, pool: pool}
}

// PutKey writes the key of index i into dst (KeySize bytes) and returns it.
func PutKey(dst []byte, i int) []byte {
	dst = dst[:KeySize]
	clear(dst[:8])
	binary.BigEndian.PutUint64(dst[8:], uint64(i))
	return dst
}

// PutMissingKey writes into dst (KeySize+1 bytes) a key no fill writes, sorting just after key
// i, and returns it.
func PutMissingKey(dst []byte, i int) []byte {
	dst = dst[:KeySize+1]
	PutKey(dst, i)
	dst[KeySize] = 0
	return dst
}

// Value returns the value of key i. Callers must not modify it.
func (k *Keyspace) Value(i int) []byte {
	start := int((uint64(i)*0x9e37_79b9_7f4a_7c15)>>44) % valuePoolSize
	return k.pool[start : start+k.ValueSize : start+k.ValueSize]
}

// EntryBytes is the size of one key and value, the unit of MB/s.
func (k *Keyspace) EntryBytes() int64 { return int64(KeySize + k.ValueSize) }

// FillOrder maps the j-th write of fillrandom to a key index: every index below Keys exactly
// once, in a scattered order (see permute).
func (k *Keyspace) FillOrder(j int) int {
	return int(permute(uint64(j), uint64(k.Keys), fillOrderSeed))
}

// Target maps the j-th operation of a read workload to a uniformly random key index (repeats
// allowed). Every engine and thread count reads the same sequence.
func (k *Keyspace) Target(seed uint64, j int) int {
	return int(splitmix64(seed+uint64(j)) % uint64(k.Keys))
}

// splitmix64 is the finalizer of SplitMix64: a bijection on uint64 that scrambles every bit.
func splitmix64(z uint64) uint64 {
	z += 0x9e37_79b9_7f4a_7c15
	z = (z ^ (z >> 30)) * 0xbf58_476d_1ce4_e5b9
	z = (z ^ (z >> 27)) * 0x94d0_49bb_1331_11eb
	return z ^ (z >> 31)
}

// permute is a bijection on [0, n) seeded by seed. It mixes within the smallest power of two
// covering n (odd multiplications and right xor-shifts are each bijective modulo a power of
// two) and walks the cycle until the result falls below n, which takes under two steps on
// average because n is more than half that power of two.
func permute(x, n, seed uint64) uint64 {
	if n <= 1 {
		return 0
	}
	bits := uint(64)
	for b := uint(1); b < 64; b++ {
		if uint64(1)<<b >= n {
			bits = b
			break
		}
	}
	mask := uint64(1)<<bits - 1
	shift := bits/2 + 1
	for {
		x = (x + seed) & mask
		x ^= x >> shift
		x = (x * 0x9e37_79b9_7f4a_7c15) & mask
		x ^= x >> shift
		x = (x * 0xbf58_476d_1ce4_e5b9) & mask
		x ^= x >> shift
		if x < n {
			return x
		}
	}
}
