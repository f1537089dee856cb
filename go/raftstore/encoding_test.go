package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
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
