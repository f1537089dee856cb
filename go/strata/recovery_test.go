package strata

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// The child side of TestKilledWriterLosesNothingAcknowledged: writes 3-key batches from 8
// goroutines and prints "ack N" after batch N is acknowledged, until killed.
func init() {
	if os.Getenv("STRATA_TEST_KILLED_WRITER") == "" {
		return
	}
	db, err := Open(os.Getenv("STRATA_TEST_KILLED_WRITER"), nil)
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	var next int
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				n := next
				next++
				mu.Unlock()
				b := NewBatch()
				for part := range 3 {
					b.Put([]byte(fmt.Sprintf("b%07d-%d", n, part)), []byte(strconv.Itoa(n)))
				}
				if err := db.Write(context.Background(), b); err != nil {
					fmt.Println("write failed:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Printf("ack %d\n", n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestKilledWriterLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "STRATA_TEST_KILLED_WRITER="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[int]bool{}
		lines := bufio.NewScanner(out)
		for lines.Scan() && len(acked) < 300 {
			n, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "ack "))
			if err != nil {
				t.Fatalf("child said %q", lines.Text())
			}
			acked[n] = true
		}
		cmd.Process.Kill() // SIGKILL: no Close, no flush
		cmd.Wait()
		if len(acked) < 300 {
			t.Fatalf("round %d: child stopped after %d acks", round, len(acked))
		}

		db, err := Open(dir, nil)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		present := map[int]int{}
		it, err := db.NewIterator(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for it.Next() {
			n, _ := strconv.Atoi(string(it.Value()))
			present[n]++
		}
		it.Close()
		db.Close()
		for n := range acked {
			if present[n] != 3 {
				t.Fatalf("round %d: acknowledged batch %d has %d of 3 keys", round, n, present[n])
			}
		}
		for n, parts := range present {
			if parts != 3 {
				t.Fatalf("round %d: batch %d is partial (%d of 3 keys)", round, n, parts)
			}
		}
		// Later rounds reuse the directory, so recovery also runs over logs earlier kills cut.
	}
}
