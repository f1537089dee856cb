package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/raftstore"
	"github.com/strata-db/strata/go/strata"
)

// The HTTP API. Statuses say what a client may conclude, which a test of linearizability
// needs to know:
//
//	200 OK                   GET: the value is the body
//	404 Not Found            GET: the key has no value
//	204 No Content           PUT, DELETE: committed and applied
//	307 Temporary Redirect   this node is not the leader; Location is the leader's URL.
//	                         Nothing was done.
//	503 Service Unavailable  no leader known, or the leader could not take the request (a
//	                         read's barrier failed, raft's queue was full). Nothing was done.
//	500 Internal Server Error  PUT, DELETE: the outcome is unknown (leadership was lost after
//	                         the entry was appended: a later leader may still commit it).
//	400 Bad Request          the request can never succeed (a key or value too large).
const (
	// applyTimeout bounds how long a write or a read's barrier waits to be queued by raft.
	applyTimeout = 5 * time.Second
	// maxValueSize bounds a PUT's body. It is far below what strata and raftstore take
	// (raftstore.MaxEntrySize) because a value is held in memory several times on its way.
	maxValueSize = 1 << 20
)

func (n *node) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kv/{key...}", n.get)
	mux.HandleFunc("PUT /kv/{key...}", n.put)
	mux.HandleFunc("DELETE /kv/{key...}", n.delete)
	return mux
}

// get answers from the leader's database after a barrier: once raft.Barrier returns, this
// node was leader when the barrier committed and has applied every entry before it, so the
// read sees every write acknowledged before the request arrived.
func (n *node) get(w http.ResponseWriter, r *http.Request) {
	if !n.leading(w, r) {
		return
	}
	if err := n.raft.Barrier(applyTimeout).Error(); err != nil {
		n.notDone(w, r, err)
		return
	}
	var value []byte
	err := n.fsm.View(func(db *strata.DB) error {
		var err error
		value, err = db.Get(r.Context(), []byte(r.PathValue("key")))
		return err
	})
	switch {
	case errors.Is(err, strata.ErrNotFound):
		http.Error(w, "not found", http.StatusNotFound)
	case errors.Is(err, strata.ErrInvalidArgument):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		w.Write(value)
	}
}

func (n *node) put(w http.ResponseWriter, r *http.Request) {
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxValueSize))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.write(w, r, encodeCommand(opPut, []byte(r.PathValue("key")), value))
}

func (n *node) delete(w http.ResponseWriter, r *http.Request) {
	n.write(w, r, encodeCommand(opDelete, []byte(r.PathValue("key")), nil))
}

// write commits cmd through the leader's log and waits until the leader has applied it.
func (n *node) write(w http.ResponseWriter, r *http.Request, cmd []byte) {
	if !n.leading(w, r) {
		return
	}
	if err := raftstore.CheckCommand(cmd); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := n.raft.Apply(cmd, applyTimeout)
	switch err := f.Error(); {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout):
		n.notDone(w, r, err) // refused before the entry reached the log
	case err != nil:
		http.Error(w, fmt.Sprintf("outcome unknown: %v", err), http.StatusInternalServerError)
	default:
		if err, ok := f.Response().(error); ok {
			http.Error(w, err.Error(), http.StatusBadRequest) // refused alike on every node
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// leading reports whether this node is the leader; if not, it has answered r with a
// redirect to the leader or, when none is known, 503.
func (n *node) leading(w http.ResponseWriter, r *http.Request) bool {
	if n.raft.State() == raft.Leader {
		return true
	}
	n.redirect(w, r)
	return false
}

// notDone answers a request that failed without effect: with a redirect when leadership
// moved, else 503.
func (n *node) notDone(w http.ResponseWriter, r *http.Request, err error) {
	if n.raft.State() != raft.Leader {
		n.redirect(w, r)
		return
	}
	http.Error(w, err.Error(), http.StatusServiceUnavailable)
}

func (n *node) redirect(w http.ResponseWriter, r *http.Request) {
	addr, _ := n.raft.LeaderWithID()
	httpAddr, ok := n.httpAddrs[addr]
	if !ok || addr == raft.ServerAddress(n.cfg.self.raftAddr) {
		http.Error(w, "no leader known", http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "http://"+httpAddr+r.URL.RequestURI(), http.StatusTemporaryRedirect)
}
