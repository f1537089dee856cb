package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/raftstore"
	"github.com/strata-db/strata/go/raftstore/raftfsm"
	"github.com/strata-db/strata/go/strata"
)

// node is one running server: raft over a raftstore.Store (log and stable store), raft's
// FileSnapshotStore and a raftfsm.FSM (the key-value data), talking to its peers over TCP.
type node struct {
	cfg       config
	raft      *raft.Raft
	fsm       *raftfsm.FSM
	store     *raftstore.Store
	transport *raft.NetworkTransport
	// httpAddrs maps raft addresses to HTTP addresses, so a follower can redirect to the
	// leader.
	httpAddrs map[raft.ServerAddress]string
}

// Names inside the data directory.
const (
	raftDir      = "raft"      // raftstore.Store: the log and stable state
	fsmDir       = "fsm"       // raftfsm.FSM: the key-value data
	snapshotsDir = "snapshots" // raft.FileSnapshotStore
)

// startNode opens the node's databases in cfg.dir, starts raft and, when cfg.bootstrap asks
// and the node has no raft state yet, bootstraps the cluster of cfg.self and cfg.peers.
func startNode(cfg config, logOutput io.Writer) (_ *node, err error) {
	logger := hclog.New(&hclog.LoggerOptions{Name: cfg.self.id, Level: hclog.Warn, Output: logOutput})
	n := &node{cfg: cfg, httpAddrs: map[raft.ServerAddress]string{}}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return nil, err
	}
	if n.store, err = raftstore.Open(filepath.Join(cfg.dir, raftDir), nil); err != nil {
		return nil, err
	}
	if n.fsm, err = raftfsm.Open(filepath.Join(cfg.dir, fsmDir), nil, applyCommand); err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.dir, snapshotsDir), 2, logger)
	if err != nil {
		return nil, err
	}
	// Loopback or a routable address: raft advertises the address it binds.
	n.transport, err = raft.NewTCPTransportWithLogger(cfg.self.raftAddr, nil, 3, 10*time.Second, logger)
	if err != nil {
		return nil, err
	}

	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(cfg.self.id)
	conf.Logger = logger
	conf.SnapshotThreshold = cfg.snapshotThreshold
	conf.SnapshotInterval = cfg.snapshotInterval
	conf.TrailingLogs = cfg.trailingLogs
	conf.HeartbeatTimeout = cfg.heartbeatTimeout
	conf.ElectionTimeout = cfg.electionTimeout
	conf.LeaderLeaseTimeout = cfg.leaderLeaseTimeout
	// The FSM's database survives restarts: raft need not restore a snapshot it already holds.
	if conf.NoSnapshotRestoreOnStart, err = n.fsm.CoversSnapshots(snaps); err != nil {
		return nil, err
	}
	if n.raft, err = raft.NewRaft(conf, n.fsm, n.store, n.store, snaps, n.transport); err != nil {
		return nil, err
	}

	servers := []raft.Server{{ID: conf.LocalID, Address: raft.ServerAddress(cfg.self.raftAddr)}}
	n.httpAddrs[raft.ServerAddress(cfg.self.raftAddr)] = cfg.self.httpAddr
	for _, p := range cfg.peers {
		servers = append(servers, raft.Server{ID: raft.ServerID(p.id), Address: raft.ServerAddress(p.raftAddr)})
		n.httpAddrs[raft.ServerAddress(p.raftAddr)] = p.httpAddr
	}
	if cfg.bootstrap {
		// Only a node without raft state bootstraps: a restarted one already has its
		// configuration in its log or snapshots.
		existing, err := raft.HasExistingState(n.store, n.store, snaps)
		if err != nil {
			return nil, err
		}
		if !existing {
			if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
				return nil, fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	return n, nil
}

// close shuts raft down, then closes the FSM and the store (raft uses them until it stops).
func (n *node) close() {
	if n.raft != nil {
		n.raft.Shutdown().Error()
	} else if n.transport != nil {
		n.transport.Close() // raft closes its transport on Shutdown
	}
	if n.fsm != nil {
		n.fsm.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
}

// Commands, as raft log entries: one op byte, the key's length as a uvarint, the key, and for
// opPut the value (the rest of the entry).
const (
	opPut    byte = 'P'
	opDelete byte = 'D'
)

func encodeCommand(op byte, key, value []byte) []byte {
	b := append([]byte{op}, binary.AppendUvarint(nil, uint64(len(key)))...)
	return append(append(b, key...), value...)
}

// applyCommand is the FSM's ApplyFunc. It depends only on the entry, so every node reaches
// the same state; a malformed entry changes nothing and its error is the response.
func applyCommand(l *raft.Log, _ *strata.DB, b *raftfsm.Batch) (any, error) {
	if len(l.Data) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	op, rest := l.Data[0], l.Data[1:]
	n, size := binary.Uvarint(rest)
	if size <= 0 || n > uint64(len(rest)-size) {
		return nil, fmt.Errorf("command %d: bad key length", l.Index)
	}
	key, value := rest[size:size+int(n)], rest[size+int(n):]
	switch op {
	case opPut:
		b.Put(key, value)
	case opDelete:
		if len(value) != 0 {
			return nil, fmt.Errorf("command %d: delete with a value", l.Index)
		}
		b.Delete(key)
	default:
		return nil, fmt.Errorf("command %d: unknown op %q", l.Index, op)
	}
	return nil, nil
}
