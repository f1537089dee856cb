package strata

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Crash loops: a child process (this test binary) writes through the Go API and reports each
// acknowledged write on stdout; the parent SIGKILLs it at a random moment, reopens, and checks.
// STRATA_CRASH_CYCLES sets the number of kills per test (default 50; the long run uses 10000),
// STRATA_CRASH_SEED the random seed (printed on failure).

const (
	childModeEnv = "STRATA_TEST_CHILD"
	childDirEnv  = "STRATA_TEST_CHILD_DIR"
	accounts     = 96
	startBalance = 1000
)

// childOptions keep memtables small, so kills also land in flushes and compactions.
var childOptions = &Options{MemtableBudget: 512 << 10}

func init() {
	switch os.Getenv(childModeEnv) {
	case "batches":
		childBatches(os.Getenv(childDirEnv))
	case "bank":
		childBank(os.Getenv(childDirEnv))
	default:
		return
	}
	os.Exit(0)
}

func crashCycles() int {
	if n, err := strconv.Atoi(os.Getenv("STRATA_CRASH_CYCLES")); err == nil && n > 0 {
		return n
	}
	return 50
}

func crashSeed(t *testing.T) uint64 {
	seed := uint64(1)
	if s, err := strconv.ParseUint(os.Getenv("STRATA_CRASH_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("STRATA_CRASH_SEED=%d", seed)
	return seed
}

func childOpen(dir string) *DB {
	db, err := Open(dir, childOptions)
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(3)
	}
	return db
}

// childBatches writes 3-key batches from 8 goroutines, printing "ack ID" once batch ID is
// acknowledged, until killed. IDs continue from the first free one, read from a counter key.
func childBatches(dir string) {
	db := childOpen(dir)
	base := 0
	if v, err := db.Get(context.Background(), []byte("next-id")); err == nil {
		base, _ = strconv.Atoi(string(v))
	}
	var mu sync.Mutex
	// Past the ids of batches in flight at the kill (8 at most): each id is written once.
	next := base + 1000
	out := bufio.NewWriter(os.Stdout)
	for range 8 {
		go func() {
			for {
				mu.Lock()
				id := next
				next++
				mu.Unlock()
				b := NewBatch()
				for part := range 3 {
					b.Put([]byte(fmt.Sprintf("b%012d-%d", id, part)), []byte(strconv.Itoa(id)))
				}
				b.Put([]byte("next-id"), []byte(strconv.Itoa(id+1)))
				if err := db.Write(context.Background(), b); err != nil {
					fmt.Println("write failed:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %d\n", id)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}

// runChild starts the child and returns its stdout lines and a kill function.
func runChild(t *testing.T, mode, dir string) (*bufio.Scanner, func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return bufio.NewScanner(out), func() {
		cmd.Process.Kill() // SIGKILL: no Close, nothing flushed
		io.Copy(io.Discard, out)
		cmd.Wait()
	}
}

// TestCrashLoopLosesNothingAcknowledged kills a writer over and over. After each kill the parent
// checks every batch acknowledged since the previous kill, then deletes (durably) every batch
// it found, so each cycle verifies a bounded set and a long run stays linear in its cycles.
// Deleted batches are acknowledged deletes: one that reappears after a later kill is lost
// data too, so ids at or below the highest deleted one must stay absent.
func TestCrashLoopLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(crashSeed(t), 7))
	cycles := crashCycles()
	maxDeleted := -1
	acknowledged := 0
	started := time.Now()
	for cycle := range cycles {
		lines, kill := runChild(t, "batches", dir)
		acked := map[int]bool{}
		want := 1 + rng.IntN(200)
		for len(acked) < want && lines.Scan() {
			id, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "ack "))
			if err != nil {
				kill()
				t.Fatalf("cycle %d: child said %q", cycle, lines.Text())
			}
			acked[id] = true
		}
		kill()
		if len(acked) < want {
			t.Fatalf("cycle %d: child stopped after %d acks", cycle, len(acked))
		}
		acknowledged += len(acked)

		db, err := Open(dir, childOptions)
		if err != nil {
			t.Fatalf("cycle %d: reopen after kill: %v", cycle, err)
		}
		parts := batchParts(t, db, cycle)
		for id := range acked {
			if parts[id] != 3 {
				t.Fatalf("cycle %d: acknowledged batch %d has %d of 3 keys", cycle, id, parts[id])
			}
		}
		for id, n := range parts {
			if n != 3 {
				t.Fatalf("cycle %d: batch %d is partial (%d of 3 keys)", cycle, id, n)
			}
			if id <= maxDeleted {
				t.Fatalf("cycle %d: batch %d is back after an acknowledged delete (ids up to %d were deleted)", cycle, id, maxDeleted)
			}
		}
		maxDeleted = max(maxDeleted, deleteBatches(t, db, cycle, parts))
		if err := db.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", cycle, err)
		}
		if (cycle+1)%500 == 0 {
			// Progress for long runs, which may outlive the patience of whoever started them.
			fmt.Fprintf(os.Stderr, "crash loop: %d of %d cycles, %d acknowledged batches verified, %s\n",
				cycle+1, cycles, acknowledged, time.Since(started).Round(time.Second))
		}
	}
}

// batchParts counts the keys of each batch the database holds, failing on a key or value
// childBatches never writes.
func batchParts(t *testing.T, db *DB, cycle int) map[int]int {
	t.Helper()
	parts := map[int]int{}
	it, err := db.NewIterator(context.Background(), &IterOptions{Start: []byte("b"), End: []byte("c")})
	if err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}
	for it.Next() {
		var id, part int
		if _, err := fmt.Sscanf(string(it.Key()), "b%012d-%d", &id, &part); err != nil || string(it.Value()) != strconv.Itoa(id) {
			it.Close()
			t.Fatalf("cycle %d: unexpected entry %q = %q", cycle, it.Key(), it.Value())
		}
		parts[id]++
	}
	if err := it.Close(); err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}
	return parts
}

// deleteBatches deletes every key of the batches in parts in one durable batch and returns the
// highest id deleted (-1 for none).
func deleteBatches(t *testing.T, db *DB, cycle int, parts map[int]int) int {
	t.Helper()
	highest := -1
	b := NewBatch()
	for id := range parts {
		for part := range 3 {
			b.Delete([]byte(fmt.Sprintf("b%012d-%d", id, part)))
		}
		highest = max(highest, id)
	}
	if err := db.Write(context.Background(), b); err != nil {
		t.Fatalf("cycle %d: deleting verified batches: %v", cycle, err)
	}
	return highest
}

func accountKey(i int) []byte { return []byte(fmt.Sprintf("acct%03d", i)) }

// childBank moves money between accounts in atomic batches from 8 goroutines (each owns a
// disjoint set of accounts, so its read-modify-write needs no lock) while a reader sums all
// balances on snapshots. It prints "ok N" every 50 transfers, and "BAD ..." if a snapshot ever
// sees a wrong total.
func childBank(dir string) {
	db := childOpen(dir)
	ctx := context.Background()
	var mu sync.Mutex
	transfers := 0
	report := func(s string) {
		mu.Lock()
		fmt.Println(s)
		mu.Unlock()
	}
	const owners = 8
	for g := range owners {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(g), uint64(os.Getpid())))
			mine := accounts / owners
			for {
				a, b := g*mine+rng.IntN(mine), g*mine+rng.IntN(mine)
				if a == b {
					continue
				}
				balA, balB := readBalance(db, a), readBalance(db, b)
				amount := rng.Uint64N(balA + 1)
				batch := NewBatch()
				batch.Put(accountKey(a), binary.BigEndian.AppendUint64(nil, balA-amount))
				batch.Put(accountKey(b), binary.BigEndian.AppendUint64(nil, balB+amount))
				if err := db.Write(ctx, batch); err != nil {
					report("write failed: " + err.Error())
					os.Exit(4)
				}
				mu.Lock()
				transfers++
				if transfers%50 == 0 {
					fmt.Printf("ok %d\n", transfers)
				}
				mu.Unlock()
			}
		}()
	}
	for {
		if total, err := snapshotTotal(db); err != nil || total != accounts*startBalance {
			report(fmt.Sprintf("BAD total %d, err %v", total, err))
			os.Exit(5)
		}
	}
}

func readBalance(db *DB, i int) uint64 {
	v, err := db.Get(context.Background(), accountKey(i))
	if err != nil || len(v) != 8 {
		fmt.Printf("BAD balance of %d: %x, %v\n", i, v, err)
		os.Exit(5)
	}
	return binary.BigEndian.Uint64(v)
}

// snapshotTotal sums every balance as of one snapshot.
func snapshotTotal(db *DB) (uint64, error) {
	snap, err := db.NewSnapshot()
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	it, err := snap.NewIterator(context.Background(), &IterOptions{Start: []byte("acct"), End: []byte("accu")})
	if err != nil {
		return 0, err
	}
	var total uint64
	n := 0
	for it.Next() {
		total += binary.BigEndian.Uint64(it.Value())
		n++
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	if n != accounts {
		return total, fmt.Errorf("%d accounts", n)
	}
	return total, nil
}

func TestBankTransfersKeepTheirTotalAcrossCrashes(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, childOptions)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch()
	for i := range accounts {
		b.Put(accountKey(i), binary.BigEndian.AppendUint64(nil, startBalance))
	}
	if err := db.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	db.Close()

	rng := rand.New(rand.NewPCG(crashSeed(t), 11))
	cycles := max(1, crashCycles()/5)
	for cycle := range cycles {
		lines, kill := runChild(t, "bank", dir)
		want := 1 + rng.IntN(6)
		for seen := 0; seen < want && lines.Scan(); {
			if line := lines.Text(); !strings.HasPrefix(line, "ok ") {
				kill()
				t.Fatalf("cycle %d: child said %q", cycle, line)
			}
			seen++
		}
		kill()
		db, err := Open(dir, childOptions)
		if err != nil {
			t.Fatalf("cycle %d: reopen: %v", cycle, err)
		}
		total, err := snapshotTotal(db)
		db.Close()
		if err != nil || total != accounts*startBalance {
			t.Fatalf("cycle %d: after the kill the total is %d (%v), want %d", cycle, total, err, accounts*startBalance)
		}
	}
}
