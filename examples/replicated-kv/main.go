// Command replicated-kv runs one node of a key-value store replicated with hashicorp/raft,
// whose raft log, stable state and key-value data all live in strata databases: the log and
// stable store in a raftstore.Store, the data in a raftfsm.FSM. It is an example of the two
// packages wired together, and the subject of a linearizability test (kv_test.go); it is not
// hardened for production (no TLS, no authentication, no membership changes).
//
// A three-node cluster on one machine:
//
//	replicated-kv -id n1 -raft 127.0.0.1:7001 -http 127.0.0.1:8001 -dir /tmp/kv1 -bootstrap \
//	    -peer n2,127.0.0.1:7002,127.0.0.1:8002 -peer n3,127.0.0.1:7003,127.0.0.1:8003
//	replicated-kv -id n2 -raft 127.0.0.1:7002 -http 127.0.0.1:8002 -dir /tmp/kv2 \
//	    -peer n1,127.0.0.1:7001,127.0.0.1:8001 -peer n3,127.0.0.1:7003,127.0.0.1:8003
//	(and n3 likewise)
//
// Joining: the node started with -bootstrap writes, on its first start only, a configuration
// of itself and every -peer; the others wait to hear from its leader. A restarted node rejoins
// from what its raft store holds, whatever its flags say. Every node needs every peer's HTTP
// address so that a follower can point clients at the leader.
//
// HTTP API (http.go): PUT, GET and DELETE /kv/{key}. Writes go through the leader's raft log;
// reads are served by the leader after a raft barrier, never from a follower's state, so both
// are linearizable. A follower answers 307 with the leader's URL in Location.
//
// The node stops cleanly on SIGINT or SIGTERM; kill -9 is what the test does to it, and a
// restart recovers from the databases.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// peer is one member of the cluster, as -peer names it: "id,raftaddr,httpaddr".
type peer struct {
	id, raftAddr, httpAddr string
}

// peerList collects repeated -peer flags.
type peerList []peer

func (l *peerList) String() string { return fmt.Sprint(*l) }

func (l *peerList) Set(s string) error {
	parts := strings.Split(s, ",")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return fmt.Errorf("peer %q is not id,raftaddr,httpaddr", s)
	}
	*l = append(*l, peer{parts[0], parts[1], parts[2]})
	return nil
}

// config is what the flags say.
type config struct {
	self      peer
	peers     peerList
	dir       string
	bootstrap bool
	// Raft's snapshot settings (raft.Config fields of the same names). The test lowers them
	// so that snapshots are taken, and a restarted node catches up from one, during its run.
	snapshotThreshold uint64
	snapshotInterval  time.Duration
	trailingLogs      uint64
	// Raft's failure detection (raft.Config fields of the same names). The stale-read test
	// shortens them so that it can depose many leaders within its run.
	heartbeatTimeout   time.Duration
	electionTimeout    time.Duration
	leaderLeaseTimeout time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run parses args, starts the node and serves until SIGINT or SIGTERM. It returns the exit
// status: 0 after a clean stop, 1 on a failure or a wrong command line.
func run(args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("replicated-kv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.self.id, "id", "", "this node's raft server ID (required)")
	fs.StringVar(&cfg.self.raftAddr, "raft", "", "raft TCP address to bind and advertise, host:port (required)")
	fs.StringVar(&cfg.self.httpAddr, "http", "", "HTTP address to serve the key-value API on (required)")
	fs.StringVar(&cfg.dir, "dir", "", "data directory: raft log, snapshots, key-value database (required)")
	fs.Var(&cfg.peers, "peer", "another node, id,raftaddr,httpaddr (repeat for each)")
	fs.BoolVar(&cfg.bootstrap, "bootstrap", false, "on first start, bootstrap a cluster of this node and every -peer")
	defaults := raft.DefaultConfig()
	fs.Uint64Var(&cfg.snapshotThreshold, "snapshot-threshold", defaults.SnapshotThreshold, "log entries after which raft takes a snapshot")
	fs.DurationVar(&cfg.snapshotInterval, "snapshot-interval", defaults.SnapshotInterval, "how often raft checks whether to take a snapshot (randomized up to twice that)")
	fs.Uint64Var(&cfg.trailingLogs, "trailing-logs", defaults.TrailingLogs, "log entries kept behind a snapshot, for followers that lag")
	fs.DurationVar(&cfg.heartbeatTimeout, "heartbeat-timeout", defaults.HeartbeatTimeout, "how long a follower waits to hear from the leader before it stands for election")
	fs.DurationVar(&cfg.electionTimeout, "election-timeout", defaults.ElectionTimeout, "how long a candidate waits for votes before it tries again")
	fs.DurationVar(&cfg.leaderLeaseTimeout, "leader-lease-timeout", defaults.LeaderLeaseTimeout, "how long a leader leads without hearing from a quorum (at most -heartbeat-timeout)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.self.id == "" || cfg.self.raftAddr == "" || cfg.self.httpAddr == "" || cfg.dir == "" {
		return cfg, errors.New("-id, -raft, -http and -dir are required")
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, nil
}

// serve runs the node until ctx is done, then stops the HTTP server and raft and closes the
// databases.
func serve(ctx context.Context, cfg config, stderr io.Writer) error {
	n, err := startNode(cfg, stderr)
	if err != nil {
		return err
	}
	defer n.close()
	srv := &http.Server{Addr: cfg.self.httpAddr, Handler: n.handler(), ReadHeaderTimeout: 5 * time.Second}
	failed := make(chan error, 1)
	go func() { failed <- srv.ListenAndServe() }()
	select {
	case err := <-failed:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
