package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// sameLog reports whether two entries hold the same fields (times compared as instants).
func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt) && a.AppendedAt.IsZero() == b.AppendedAt.IsZero()
}

func TestLogEncodingRoundTrips(t *testing.T) {
	for _, l := range []raft.Log{
		{Index: 1},
		{Index: 1<<64 - 1, Term: 1<<64 - 1, Type: raft.LogConfiguration, Data: []byte("cfg"), Extensions: []byte{0}},
		{Index: 7, Term: 3, Type: raft.LogCommand, Data: bytes.Repeat([]byte("x"), 1000),
			AppendedAt: time.Date(2026, 5, 17, 10, 11, 12, 999_999_999, time.UTC)},
		{Index: 8, Term: 3, Type: raft.LogNoop, AppendedAt: time.Unix(0, 0)},
		{Index: 9, Term: 3, Type: raft.LogBarrier, AppendedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{Index: 10, Term: 4, Type: raft.LogType(200), AppendedAt: time.Date(-500, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		enc := encodeLog(nil, &l)
		var got raft.Log
		if err := decodeLog(l.Index, enc, &got); err != nil {
			t.Fatalf("log %d: %v", l.Index, err)
		}
		if !sameLog(&got, &l) {
			t.Errorf("round trip changed the entry:\n got %+v\nwant %+v", got, l)
		}
	}
}

// The format is what existing stores hold: a change to it must come with a new version byte,
// not silently alter these bytes.
func TestLogEncodingIsStable(t *testing.T) {
	l := raft.Log{
		Index: 300, Term: 2, Type: raft.LogCommand, Data: []byte("set x=1"), Extensions: []byte("ext"),
		AppendedAt: time.Unix(1_700_000_000, 5),
	}
	const want = "01" + "ac02" + "02" + "00" + "07" + "73657420783d31" + "03" + "657874" + "80c49fd50c" + "05"
	if got := hex.EncodeToString(encodeLog(nil, &l)); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
}

func TestLogDecodingRejectsDamage(t *testing.T) {
	l := raft.Log{Index: 5, Term: 2, Type: raft.LogCommand, Data: []byte("payload"), Extensions: []byte("e"),
		AppendedAt: time.Unix(1_700_000_000, 0)}
	enc := encodeLog(nil, &l)

	zeroTime := encodeLog(nil, &raft.Log{Index: 5}) // ends in nanoseconds 0, one byte
	damaged := map[string][]byte{
		"trailing byte":   append(append([]byte{}, enc...), 0),
		"version 2":       append([]byte{2}, enc[1:]...),
		"nanoseconds 1e9": binary.AppendUvarint(zeroTime[:len(zeroTime)-1:len(zeroTime)-1], uint64(time.Second)),
	}
	for n := range len(enc) {
		damaged[fmt.Sprintf("truncated to %d bytes", n)] = enc[:n]
	}
	for name, value := range damaged {
		var got raft.Log
		if err := decodeLog(5, value, &got); !errors.Is(err, strata.ErrCorruption) {
			t.Errorf("%s: decodeLog returned %v, want an error wrapping strata.ErrCorruption", name, err)
		}
	}

	var got raft.Log
	if err := decodeLog(6, enc, &got); !errors.Is(err, strata.ErrCorruption) {
		t.Errorf("entry 5 read as entry 6: decodeLog returned %v, want strata.ErrCorruption", err)
	}
}

// An entry in parts: the head's fields, then the version 1 encoding cut into values of at
// most limit bytes. Like the version 1 bytes above, these are what existing stores hold.
func TestLogHeadEncodingIsStable(t *testing.T) {
	l := raft.Log{Index: 300, Term: 2, Type: raft.LogCommand, Data: bytes.Repeat([]byte("ab"), 40)}
	encoded := encodeLog(nil, &l) // 94 bytes
	const limit = headReserve + 9
	head, parts := splitLog(l.Index, encoded, limit)
	const want = "02" + "ac02" + "5e" + "03" + "01ac02020050616261" // version, index, length 94, 3 parts, 9 bytes
	if got := hex.EncodeToString(head); got != want {
		t.Fatalf("head\n got %s\nwant %s", got, want)
	}
	if len(parts) != 3 || len(parts[0]) != limit || len(parts[1]) != limit || len(parts[2]) != 94-9-2*limit {
		t.Fatalf("%d parts, want 3 of %d, %d and %d bytes", len(parts), limit, limit, 94-9-2*limit)
	}
	if whole := slices.Concat(append([][]byte{head[len(head)-9:]}, parts...)...); !bytes.Equal(whole, encoded) {
		t.Fatalf("head and parts hold\n%x\nnot the version 1 encoding\n%x", whole, encoded)
	}
	if got := hex.EncodeToString(continuationKey(300, 2)); got != "63"+"000000000000012c"+"00000002" {
		t.Fatalf("continuation key of part 2 of entry 300: %s", got)
	}
	// An entry that fits one value is its version 1 encoding, whatever the limit.
	if head, parts := splitLog(l.Index, encoded, len(encoded)); !bytes.Equal(head, encoded) || parts != nil {
		t.Fatalf("an entry of exactly the limit was split")
	}
}

func TestLogHeadDecodingRejectsDamage(t *testing.T) {
	enc := encodeLog(nil, &raft.Log{Index: 5, Data: bytes.Repeat([]byte("x"), 100)})
	head, _ := splitLog(5, enc, headReserve+10)
	if h, err := decodeHead(5, head); err != nil || h.length != uint64(len(enc)) || h.parts != 3 || !bytes.Equal(h.first, enc[:10]) {
		t.Fatalf("decodeHead = %+v, %v; want %d bytes in 3 parts after the first 10", h, err, len(enc))
	}
	fields := func(index, length, parts uint64) []byte {
		b := []byte{logFormatHead}
		for _, v := range []uint64{index, length, parts} {
			b = binary.AppendUvarint(b, v)
		}
		return append(b, enc[:10]...)
	}
	damaged := map[string][]byte{
		"version 1":               append([]byte{logFormatV1}, head[1:]...),
		"no parts":                fields(5, uint64(len(enc)), 0),
		"length within the head":  fields(5, 10, 1),
		"length over a batch":     fields(5, strata.MaxBatchSize+1, 1),
		"parts over a uint32":     fields(5, uint64(len(enc)), 1<<32),
		"another entry's head":    fields(6, uint64(len(enc)), 3),
		"empty":                   nil,
		"truncated in the fields": head[:3],
	}
	for name, value := range damaged {
		if _, err := decodeHead(5, value); !errors.Is(err, strata.ErrCorruption) {
			t.Errorf("%s: decodeHead returned %v, want an error wrapping strata.ErrCorruption", name, err)
		}
	}
}
