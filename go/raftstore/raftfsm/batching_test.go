package raftfsm

import (
	"testing"

	"github.com/hashicorp/raft"
)

// A group of entries is applied with one Write: commands' writes, a refused command's
// nothing, a configuration entry only its index. Every entry of a group reads the database as
// it stood before the group, which putCommand's "count" shows (one '+' for the group). A group
// replayed after a reopen skips what is applied.
func TestBatchingAppliesAGroupWithOneWrite(t *testing.T) {
	dir := t.TempDir()
	f := openFSM(t, dir)
	group := []*raft.Log{
		command(1, 1, "a=1"),
		{Index: 2, Term: 1, Type: raft.LogConfiguration, Data: []byte("not a command")},
		command(3, 2, "no equals sign"),
		command(4, 2, "b=2"),
	}
	resps := f.Batching().ApplyBatch(group)
	if len(resps) != len(group) || resps[0] != "a" || resps[1] != nil || resps[3] != "b" {
		t.Fatalf("responses = %v, want [a <nil> error b]", resps)
	}
	if _, ok := resps[2].(error); !ok {
		t.Fatalf("response to a refused command = %v, want an error", resps[2])
	}
	wantContents(t, f, map[string]string{"a": "1", "b": "2", "count": "+"}, 4, 2)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	f = openFSM(t, dir)
	resps = f.Batching().ApplyBatch([]*raft.Log{command(4, 2, "b=replayed"), command(5, 2, "c=5")})
	if resps[0] != nil || resps[1] != "c" {
		t.Fatalf("responses = %v, want [<nil> c]", resps)
	}
	wantContents(t, f, map[string]string{"a": "1", "b": "2", "c": "5", "count": "++"}, 5, 2)
	// A group of entries all applied before writes nothing.
	resps = f.Batching().ApplyBatch([]*raft.Log{command(5, 2, "c=again")})
	if resps[0] != nil {
		t.Fatalf("response to a replayed entry = %v, want nil", resps[0])
	}
	wantContents(t, f, map[string]string{"a": "1", "b": "2", "c": "5", "count": "++"}, 5, 2)
}
