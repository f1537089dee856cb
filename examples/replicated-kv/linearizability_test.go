package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Clients run random PUT, GET and DELETE on a few keys against a three-node cluster while the
// leader is paused (SIGSTOP) until another is elected, then resumed; then the leader, then a
// follower, are killed with SIGKILL and restarted. Every operation is recorded
// with its start and end time; the history must be linearizable against a key-value model
// (porcupine), final reads of every key included, so no acknowledged write may be lost and
// no read may see a stale or invented value.
func TestLinearizableAcrossCrashes(t *testing.T) {
	// Frequent snapshots with few entries behind them: a node restarted after a crash may
	// have to install one.
	c := newCluster(t, buildBinary(t), "-snapshot-threshold", "32", "-snapshot-interval", "200ms", "-trailing-logs", "16")
	c.leader()

	h := newHistory()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for id := range 4 {
		cl := newClient(c, h, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.run(ctx)
		}()
	}
	stopped := false
	stopClients := func() {
		if !stopped {
			stopped = true
			stop()
			wg.Wait()
		}
	}
	defer stopClients()

	// Each step lets the clients complete some operations first, so every phase (before,
	// during and after each crash) is in the history.
	progress := func(what string) {
		t.Helper()
		want := h.completed() + opsPerPhase
		waitFor(t, 30*time.Second, func() bool { return h.completed() >= want }, fmt.Sprint(opsPerPhase, " operations ", what))
		if err := c.exited(); err != nil {
			t.Fatal(err)
		}
	}
	progress("before any fault")
	leader := c.leader()
	c.pause(leader)
	t.Logf("paused leader %s", leader.id)
	if next := c.leader(); next == leader {
		t.Fatalf("%s still leads while paused", leader.id)
	}
	c.resume(leader)
	c.rejoined(leader)
	progress("after pausing the leader")
	leader = c.leader()
	c.kill(leader)
	t.Logf("killed leader %s", leader.id)
	progress("after killing the leader")
	c.start(leader)
	c.rejoined(leader)
	progress("after restarting the old leader")
	follower := c.follower(leader)
	c.kill(follower)
	t.Logf("killed follower %s", follower.id)
	progress("after killing a follower")
	c.start(follower)
	c.rejoined(follower)
	progress("after restarting the follower")
	stopClients()

	final := newClient(c, h, 4)
	for _, key := range keys {
		if !final.get(context.Background(), key) {
			t.Fatalf("final read of %s failed", key)
		}
	}

	ops := h.operations()
	t.Logf("%d operations: %d acknowledged writes, %d writes of unknown outcome, %d reads",
		len(ops), h.count(outcomeOK, true), h.count(outcomeUnknown, true), h.count(outcomeOK, false))
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, 30*time.Second)
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		path := filepath.Join(os.TempDir(), fmt.Sprintf("replicated-kv-history-%d.html", os.Getpid()))
		if err := porcupine.VisualizePath(kvModel, info, path); err == nil {
			t.Errorf("visualization in %s", path)
		}
		t.Fatal("the history is not linearizable")
	default:
		t.Fatalf("the linearizability check gave up: %v", res)
	}
}

// The workload: few keys, so that operations on each overlap, and few operations, so that
// the check takes seconds.
var keys = []string{"a", "b", "c", "d"}

const opsPerPhase = 150

// kvInput is an operation on one key; value is what a put writes.
type kvInput struct {
	op    string // "get", "put" or "delete"
	key   string
	value string
}

// kvOutput is what a get returned. Writes return nothing, so a write of unknown outcome
// needs no special output: it is recorded with an infinite end time, which lets porcupine
// place it anywhere after its start, including after every other operation, where it
// changes nothing that was observed.
type kvOutput struct {
	found bool
	value string
}

// kvState is one key's value; the model is partitioned by key.
type kvState struct {
	present bool
	value   string
}

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		var parts [][]porcupine.Operation
		for _, p := range byKey {
			parts = append(parts, p)
		}
		return parts
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(kvState), input.(kvInput)
		switch in.op {
		case "put":
			return true, kvState{true, in.value}
		case "delete":
			return true, kvState{}
		default:
			out := output.(kvOutput)
			return out.found == s.present && out.value == s.value, s
		}
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		switch in.op {
		case "put":
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		case "delete":
			return fmt.Sprintf("delete(%s)", in.key)
		}
		if out := output.(kvOutput); out.found {
			return fmt.Sprintf("get(%s) -> %s", in.key, out.value)
		}
		return fmt.Sprintf("get(%s) -> none", in.key)
	},
}

type outcome int

const (
	outcomeOK      outcome = iota // acknowledged
	outcomeUnknown                // a write that may or may not have happened
)

// history collects operations from every client, timed on one monotonic clock.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	kinds []outcome
	done  atomic.Int64 // operations recorded
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) record(client int, in kvInput, out kvOutput, call, ret int64, o outcome) {
	if o == outcomeUnknown {
		ret = math.MaxInt64
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret})
	h.kinds = append(h.kinds, o)
	h.done.Add(1)
}

func (h *history) completed() int64 { return h.done.Load() }

func (h *history) operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

// count counts the operations with outcome o that are writes (or reads).
func (h *history) count(o outcome, writes bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for i, op := range h.ops {
		if h.kinds[i] == o && (op.Input.(kvInput).op != "get") == writes {
			n++
		}
	}
	return n
}

// client sends operations to any node, following redirects to the leader itself and moving
// to another node when one is down or has no leader.
type client struct {
	c    *cluster
	h    *history
	id   int
	seq  int
	next int // the node to try first
	http *http.Client
	rng  *rand.Rand
}

func newClient(c *cluster, h *history, id int) *client {
	return &client{c: c, h: h, id: id, next: id % len(c.nodes), rng: rand.New(rand.NewPCG(uint64(id), 1)),
		http: &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			// A connection per request: a request on a kept-alive connection to a killed
			// node fails like one that reached it, and its write's outcome would be unknown.
			Transport: &http.Transport{DisableKeepAlives: true},
		}}
}

func (cl *client) run(ctx context.Context) {
	for ctx.Err() == nil {
		key := keys[cl.rng.IntN(len(keys))]
		switch r := cl.rng.IntN(10); {
		case r < 5:
			cl.get(ctx, key)
		case r < 9:
			cl.seq++
			cl.write(ctx, kvInput{"put", key, fmt.Sprintf("c%d-%d", cl.id, cl.seq)})
		default:
			cl.write(ctx, kvInput{"delete", key, ""})
		}
	}
}

// attempt is the result of sending a request to one node.
type attempt int

const (
	done    attempt = iota // a final answer
	notDone                // refused, nothing happened: try elsewhere
	maybe                  // the request may have taken effect
)

// get reads key and records the read if it got an answer; a read that failed changed
// nothing and is left out.
func (cl *client) get(ctx context.Context, key string) bool {
	call := cl.h.now()
	var out kvOutput
	res := cl.send(ctx, http.MethodGet, key, "", func(status int, body string) bool {
		switch status {
		case http.StatusOK:
			out = kvOutput{true, body}
			return true
		case http.StatusNotFound:
			return true
		}
		return false
	})
	if res == done {
		cl.h.record(cl.id, kvInput{"get", key, ""}, out, call, cl.h.now(), outcomeOK)
	}
	return res == done
}

// write sends a put or delete and records it as acknowledged or of unknown outcome; one that
// certainly did nothing is left out.
func (cl *client) write(ctx context.Context, in kvInput) {
	method := http.MethodPut
	if in.op == "delete" {
		method = http.MethodDelete
	}
	call := cl.h.now()
	res := cl.send(ctx, method, in.key, in.value, func(status int, _ string) bool {
		return status == http.StatusNoContent
	})
	switch res {
	case done:
		cl.h.record(cl.id, in, kvOutput{}, call, cl.h.now(), outcomeOK)
	case maybe:
		cl.h.record(cl.id, in, kvOutput{}, call, 0, outcomeUnknown)
	}
}

// send tries nodes until one gives a final answer (ok says which statuses are), the request
// may have taken effect, or 10 s or ctx run out.
func (cl *client) send(ctx context.Context, method, key, value string, ok func(status int, body string) bool) attempt {
	deadline := time.Now().Add(10 * time.Second)
	url := ""
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if url == "" {
			url = "http://" + cl.c.nodes[cl.next].httpAddr + "/kv/" + key
		}
		status, body, location, err := cl.do(method, url, value)
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			// Nothing listens there: the node is down. Nothing was sent.
		case err != nil:
			if method != http.MethodGet {
				return maybe // sent, and maybe applied: timed out or cut off
			}
		case ok(status, body):
			return done
		case status == http.StatusTemporaryRedirect && location != "":
			url = location
			continue
		case status == http.StatusInternalServerError && method != http.MethodGet:
			return maybe
		case status == http.StatusServiceUnavailable || status == http.StatusTemporaryRedirect:
		default:
			cl.c.t.Errorf("%s %s: unexpected status %d: %s", method, url, status, body)
			return notDone
		}
		cl.next = (cl.next + 1) % len(cl.c.nodes)
		url = ""
		time.Sleep(20 * time.Millisecond) // a new leader takes about a second to emerge
	}
	return notDone
}

func (cl *client) do(method, url, value string) (status int, body, location string, err error) {
	var reqBody io.Reader
	if method == http.MethodPut {
		reqBody = strings.NewReader(value)
	}
	req, err := http.NewRequest(method, url, reqBody)
	if err != nil {
		return 0, "", "", err
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", "", err
	}
	return resp.StatusCode, string(b), resp.Header.Get("Location"), nil
}
