package raftfsm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// Snapshot returns a snapshot whose Persist streams a backup of the database into raft's sink.
// The backup is taken when Persist runs, while Apply goes on, so it may hold entries after the
// snapshot's index; it holds their applied index too, and Apply on the node that restores it
// skips them when raft replays them. A failed FSM refuses to snapshot: its database lacks
// entries raft counts as applied.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.Err(); err != nil {
		return nil, err
	}
	return snapshot{f}, nil
}

// snapshot is a raft.FSMSnapshot of an FSM. It holds nothing: Persist reads the database.
type snapshot struct{ f *FSM }

// Persist streams DB.Backup into sink (no copy of the state in memory) and closes it, or
// cancels it if the backup fails. It holds off Restore's swap while it reads.
func (s snapshot) Persist(sink raft.SnapshotSink) error {
	err := s.f.View(func(db *strata.DB) error { return db.Backup(context.Background(), sink) })
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("raftfsm: persist a snapshot: %w", err)
	}
	return sink.Close()
}

// Release does nothing: Backup removes its checkpoint itself.
func (snapshot) Release() {}

// Restore replaces the database with the backup stream rc (what Persist wrote):
//
//  1. strata.Restore builds it in dir/db.next, checked and durable, while the current database
//     still serves reads. A damaged stream fails here and leaves the current database as it was.
//  2. Under the FSM's lock (readers wait, none sees a closed handle): close the current
//     database, rename db to db.old and db.next to db, fsync dir, open db.
//  3. Remove db.old.
//
// A crash between the renames leaves db.old and db.next and no db; Open completes the swap.
// If the new database fails to open, the FSM fails (Err) and reads return strata.ErrClosed.
// Restore needs room for both databases at once.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	next := filepath.Join(f.dir, nextName)
	if err := os.RemoveAll(next); err != nil {
		return fmt.Errorf("raftfsm: restore: %w", err)
	}
	if err := strata.Restore(context.Background(), next, rc); err != nil {
		os.RemoveAll(next)
		return fmt.Errorf("raftfsm: restore: %w", err)
	}
	if err := syncDir(f.dir); err != nil {
		return fmt.Errorf("raftfsm: restore: %w", err)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	// A Close that fails (its log's last sync) loses nothing: the database is replaced.
	f.db.Close()
	if err := swap(f.dir); err != nil {
		return f.fail(fmt.Errorf("restore: %w", err))
	}
	db, pos, err := f.openDB()
	if err != nil {
		return f.fail(fmt.Errorf("restore: %w", err))
	}
	f.db = db
	f.applied.Store(&pos)
	os.RemoveAll(filepath.Join(f.dir, oldName))
	return nil
}

// swap moves db.next into db's place, db to db.old, and makes the renames durable.
func swap(dir string) error {
	if err := os.RemoveAll(filepath.Join(dir, oldName)); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, dbName), filepath.Join(dir, oldName)); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, nextName), filepath.Join(dir, dbName)); err != nil {
		return err
	}
	return syncDir(dir)
}

// recoverSwap puts dir in order after a crash. Restore only renames after db.next is complete,
// so db.old beside db.next without db means the crash came between the renames: the swap is
// finished. Otherwise db.next (a restore cut short), db.old (a swap done but not cleaned up)
// and strata's own staging directories are removed.
func recoverSwap(dir string) error {
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	if !exists(dbName) && exists(oldName) && exists(nextName) {
		if err := os.Rename(filepath.Join(dir, nextName), filepath.Join(dir, dbName)); err != nil {
			return err
		}
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	staging, err := filepath.Glob(filepath.Join(dir, ".strata-*"))
	if err != nil {
		return err
	}
	for _, p := range append(staging, filepath.Join(dir, nextName), filepath.Join(dir, oldName)) {
		if err := os.RemoveAll(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// syncDir makes dir's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
