package strata

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// strata's threads block asynchronous signals, so signals sent to the process reach Go's
// signal handling while strata is busy on all of its threads.
func TestSignalsReachGoWhileStrataIsBusy(t *testing.T) {
	db := openTest(t, nil) // durable writes keep the committer thread busy too
	signals := []os.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM}
	ch := make(chan os.Signal, len(signals))
	signal.Notify(ch, signals...)
	defer signal.Stop(ch)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := db.Put(context.Background(), []byte(fmt.Sprintf("g%d-%d", g, i%100)), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	for _, sig := range signals {
		if err := syscall.Kill(os.Getpid(), sig.(syscall.Signal)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-ch:
			if got != sig {
				t.Fatalf("sent %v, signal.Notify got %v", sig, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v never reached signal.Notify", sig)
		}
	}
}
