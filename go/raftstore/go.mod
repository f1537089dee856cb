module github.com/strata-db/strata/go/raftstore

go 1.25.0

replace github.com/strata-db/strata => ../..

// raft-boltdb/v2 v2.3.1 (used only by bench_test.go, for comparison) imports
// github.com/hashicorp/go-metrics/compat, which go-metrics v0.7.0 (required by raft v1.8.0)
// no longer has. v0.6.1 still has it, and its root package is the same as v0.7.0's, so raft
// builds unchanged. Replacements apply only when this module is the main module: programs
// importing raftstore are unaffected.
replace github.com/hashicorp/go-metrics => github.com/hashicorp/go-metrics v0.6.1

require (
	github.com/hashicorp/go-hclog v1.6.3
	github.com/hashicorp/raft v1.8.0
	github.com/hashicorp/raft-boltdb/v2 v2.3.1
	github.com/strata-db/strata v0.0.0-00010101000000-000000000000
)

require (
	github.com/armon/go-metrics v0.4.1 // indirect
	github.com/boltdb/bolt v1.3.1 // indirect
	github.com/fatih/color v1.13.0 // indirect
	github.com/hashicorp/go-immutable-radix v1.3.1 // indirect
	github.com/hashicorp/go-metrics v0.7.0 // indirect
	github.com/hashicorp/go-msgpack/v2 v2.1.5 // indirect
	github.com/hashicorp/golang-lru v1.0.2 // indirect
	github.com/mattn/go-colorable v0.1.12 // indirect
	github.com/mattn/go-isatty v0.0.14 // indirect
	go.etcd.io/bbolt v1.3.5 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
