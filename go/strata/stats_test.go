package strata

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestStatsDerivedRatios(t *testing.T) {
	for _, tc := range []struct {
		s        Stats
		wa, rate float64
	}{
		{Stats{}, 0, 0},
		{Stats{FlushBytes: 100}, 0, 0}, // no writes since open: no ratio
		{Stats{WALBytesWritten: 100, FlushBytes: 90, CompactionBytesWritten: 210}, 3, 0},
		{Stats{CacheHits: 3, CacheMisses: 1}, 0, 0.75},
		{Stats{CacheMisses: 5}, 0, 0},
	} {
		if wa, rate := tc.s.WriteAmplification(), tc.s.CacheHitRate(); wa != tc.wa || rate != tc.rate {
			t.Errorf("%+v: WriteAmplification %v, CacheHitRate %v; want %v, %v", tc.s, wa, rate, tc.wa, tc.rate)
		}
	}
}

// Every field has a snake_case JSON name of its own, so the CLI's --json output is stable.
func TestStatsJSONNames(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[string]bool{}
	typ := reflect.TypeFor[Stats]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		name := f.Tag.Get("json")
		if !snake.MatchString(name) || seen[name] {
			t.Errorf("field %s has JSON name %q; want a unique snake_case name", f.Name, name)
		}
		seen[name] = true
	}
	out, err := json.Marshal(Stats{LevelFiles: [NumLevels]uint64{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if files, ok := back["level_files"].([]any); !ok || len(files) != NumLevels || files[1] != 2.0 {
		t.Fatalf("level_files encodes as %v, want an array of %d counts", back["level_files"], NumLevels)
	}
}

// Reads from tables go through the block cache when tables are not mapped: the first read of
// a block misses, a repeated read hits.
func TestStatsCountBlockCache(t *testing.T) {
	db := openTest(t, &Options{NoSync: true, NoMmap: true})
	ctx := context.Background()
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "v")
	}
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := mustStats(t, db)
	wantValue(t, db, "k042", "v")
	miss := mustStats(t, db)
	wantValue(t, db, "k042", "v")
	hit := mustStats(t, db)
	if miss.CacheMisses <= before.CacheMisses || hit.CacheHits <= miss.CacheHits || hit.CacheBytes == 0 {
		t.Fatalf("misses %d -> %d, hits %d -> %d, cache bytes %d; want a miss on the first read, a hit on the second",
			before.CacheMisses, miss.CacheMisses, miss.CacheHits, hit.CacheHits, hit.CacheBytes)
	}
	if r := hit.CacheHitRate(); r <= 0 || r > 1 {
		t.Fatalf("CacheHitRate %v, want in (0, 1]", r)
	}
}

// Mapped tables are reported, and what a read touched of them is resident; uncompressed
// blocks read from a map skip the block cache. With NoMmap nothing is mapped.
func TestStatsReportMappedTables(t *testing.T) {
	ctx := context.Background()
	for _, noMmap := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoMmap=%v", noMmap), func(t *testing.T) {
			db := openTest(t, &Options{NoSync: true, Compression: CompressionNone, NoMmap: noMmap})
			for i := range 1000 {
				mustPut(t, db, fmt.Sprintf("k%04d", i), strings.Repeat("v", 100))
			}
			if err := db.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			wantValue(t, db, "k0420", strings.Repeat("v", 100))
			s := mustStats(t, db)
			tables := s.LevelBytes[0] + s.LevelBytes[1]
			if noMmap {
				if s.MappedBytes != 0 || s.MappedResidentBytes != 0 || s.CacheMisses == 0 {
					t.Fatalf("NoMmap: mapped %d bytes (%d resident), %d cache misses; want nothing mapped and reads through the cache",
						s.MappedBytes, s.MappedResidentBytes, s.CacheMisses)
				}
				return
			}
			if s.MappedBytes != tables || s.MappedResidentBytes == 0 || s.MappedResidentBytes > s.MappedBytes {
				t.Fatalf("mapped %d bytes (%d resident) of %d table bytes; want the table mapped and some of it resident",
					s.MappedBytes, s.MappedResidentBytes, tables)
			}
			if s.CacheHits+s.CacheMisses != 0 || s.CacheBytes != 0 {
				t.Fatalf("%d cache hits, %d misses, %d bytes cached; want uncompressed blocks read from the map",
					s.CacheHits, s.CacheMisses, s.CacheBytes)
			}
		})
	}
}

func TestStatsCountWritesAndWriteAmplification(t *testing.T) {
	db := openTest(t, &Options{NoSync: true})
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "value")
	}
	s := mustStats(t, db)
	if s.BatchesWritten != 100 || s.WALBytesWritten == 0 || s.WriteAmplification() != 0 {
		t.Fatalf("before any flush: %d batches, %d WAL bytes, write amplification %v; want 100, > 0, 0",
			s.BatchesWritten, s.WALBytesWritten, s.WriteAmplification())
	}
	if err := db.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s = mustStats(t, db); s.WriteAmplification() <= 0 {
		t.Fatalf("after a flush: write amplification %v, want > 0", s.WriteAmplification())
	}
}
