package raftfsm

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// Batching returns the FSM as a raft.BatchingFSM: raft then hands it each group of committed
// entries at once (up to raft.Config.MaxAppendEntries), and it writes the group's writes and
// the last entry's position in one strata Write, one fsync, instead of one per entry. The
// state and the applied index still agree after a crash: a group is written whole or not at
// all.
//
// Use it only when the apply function reads no key that another entry of the same group may
// write: every entry of a group reads the database as it stood before the group (its own
// writes are not applied until the group's Write). An application whose commands only write,
// or read what no command writes, loses nothing; one that reads what commands write (a
// counter it increments, say) must use the FSM itself.
//
// Pass it to raft.NewRaft in place of the FSM; everything else (Snapshot, Restore, DB, View,
// Close) stays with the FSM.
func (f *FSM) Batching() raft.BatchingFSM { return batching{f} }

type batching struct{ *FSM }

// ApplyBatch applies a group of committed entries, commands and others (raft sends
// configuration changes too: they only advance the applied index), with one Write; when the
// group's writes would not fit one batch it writes them in as many as it needs, each with the
// position of its last entry. Responses are as Apply's, one per entry.
func (b batching) ApplyBatch(logs []*raft.Log) []any {
	f := b.FSM
	resps := make([]any, len(logs))
	if err := f.Err(); err != nil {
		for i := range resps {
			resps[i] = err
		}
		return resps
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	group := strata.NewBatch()
	size := 0
	var last *position
	flush := func() error {
		if last == nil {
			return nil
		}
		group.Put(appliedKey, encodeApplied(*last))
		if err := f.db.Write(context.Background(), group); err != nil {
			return f.fail(fmt.Errorf("apply entries up to %d: %w", last.index, err))
		}
		f.applied.Store(last)
		group.Reset()
		size, last = 0, nil
		return nil
	}
	for i, l := range logs {
		if l.Index <= f.AppliedIndex() {
			continue
		}
		if l.Type == raft.LogCommand {
			resps[i] = f.applyEntry(l)
			if size+f.batch.size > strata.MaxBatchSize-appliedRoom {
				if err := flush(); err != nil {
					return failed(resps, err)
				}
			}
			group.Append(&f.batch.b)
			size += f.batch.size
		}
		last = &position{l.Index, l.Term}
	}
	if err := flush(); err != nil {
		return failed(resps, err)
	}
	return resps
}

// failed gives every entry of a group the error that failed the FSM: raft learns of it
// through each of their responses.
func failed(resps []any, err error) []any {
	for i := range resps {
		resps[i] = err
	}
	return resps
}
