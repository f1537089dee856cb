package strata

import (
	"strings"
	"testing"
)

func TestGoNilDereferenceStillPanicsWithStrataLoaded(t *testing.T) {
	// The fault handler strata installed forwards faults on Go threads to the Go runtime.
	openTest(t, nil)
	if !faultHandlerInstalled() {
		t.Fatal("strata's fault handler is not installed after Open")
	}
	var p *int
	recovered := func() (r any) {
		defer func() { r = recover() }()
		*p = 1
		return nil
	}()
	if err, ok := recovered.(error); !ok || !strings.Contains(err.Error(), "nil pointer dereference") {
		t.Fatalf("recovered %v; want a runtime error for the nil dereference", recovered)
	}
}
