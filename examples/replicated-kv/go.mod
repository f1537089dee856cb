module github.com/strata-db/strata/examples/replicated-kv

go 1.25.0

replace github.com/strata-db/strata => ../..

replace github.com/strata-db/strata/go/raftstore => ../../go/raftstore

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/hashicorp/go-hclog v1.6.3
	github.com/hashicorp/raft v1.8.0
	github.com/strata-db/strata v0.0.0-00010101000000-000000000000
	github.com/strata-db/strata/go/raftstore v0.0.0-00010101000000-000000000000
)

require (
	github.com/fatih/color v1.13.0 // indirect
	github.com/hashicorp/go-immutable-radix v1.3.1 // indirect
	github.com/hashicorp/go-metrics v0.7.0 // indirect
	github.com/hashicorp/go-msgpack/v2 v2.1.5 // indirect
	github.com/hashicorp/golang-lru v1.0.2 // indirect
	github.com/mattn/go-colorable v0.1.12 // indirect
	github.com/mattn/go-isatty v0.0.14 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

// As in go/raftstore/go.mod: `go mod tidy` follows raftstore's tests into raft-boltdb/v2,
// which imports github.com/hashicorp/go-metrics/compat, gone from go-metrics v0.7.0.
replace github.com/hashicorp/go-metrics => github.com/hashicorp/go-metrics v0.6.1
