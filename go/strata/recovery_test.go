package strata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReopenRecoversEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	for i := 0; i < 300; i += 3 {
		if err := db.Delete(ctx, []byte(fmt.Sprintf("k%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 300 {
		k := fmt.Sprintf("k%03d", i)
		if i%3 == 0 {
			wantNotFound(t, db, k)
		} else {
			wantValue(t, db, k, fmt.Sprint(i))
		}
	}
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.RecoveredBatches != 400 {
		t.Fatalf("RecoveredBatches = %d, want 400", s.RecoveredBatches)
	}
}

func TestCorruptedLogFailsOpenNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		mustPut(t, db, fmt.Sprintf("k%02d", i), strings.Repeat("v", 50))
	}
	db.Close()
	wal := filepath.Join(dir, "000001.wal")
	data, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	data[200] ^= 0x55
	if err := os.WriteFile(wal, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, nil)
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), "000001.wal") {
		t.Fatalf("Open of a damaged log = %v, want ErrCorruption naming 000001.wal", err)
	}
}
