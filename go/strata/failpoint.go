//go:build strata_failpoints

package strata

/*
#include "strata.h"
*/
import "C"

import "fmt"

// FailpointAction is what an armed failpoint does when it fires. Failpoints exist only in
// test builds (build tag strata_failpoints, which links an engine built with them).
type FailpointAction uint32

const (
	// FailPanic makes the engine panic at the point.
	FailPanic FailpointAction = C.STRATA_FAILPOINT_PANIC
	// FailSegfault makes the engine write through a null pointer at the point (SIGSEGV).
	FailSegfault FailpointAction = C.STRATA_FAILPOINT_SEGFAULT
	// FailBrokenPipe makes the engine write to a pipe with no reader at the point (SIGPIPE).
	FailBrokenPipe FailpointAction = C.STRATA_FAILPOINT_BROKEN_PIPE
)

// ArmFailpoint arms the engine failpoint name to perform action once, the next time any strata
// thread passes it. The points: "db.prepare" and "db.get" (the runtime thread), "flush" (a
// database's flush thread), "compaction" (its compaction thread), "iter.read_ahead" (a
// database's thread reading an iterator's next chunk before it is asked for).
func ArmFailpoint(name string, action FailpointAction) error {
	b := []byte(name)
	p, n := bytesArg(b)
	if rc := C.strata_failpoint_arm(p, n, C.uint32_t(action)); rc != C.STRATA_OK {
		return submitError(fmt.Sprintf("arm failpoint %q", name), int32(rc))
	}
	return nil
}

// DisarmFailpoints disarms every failpoint.
func DisarmFailpoints() {
	C.strata_failpoint_disarm_all()
}
