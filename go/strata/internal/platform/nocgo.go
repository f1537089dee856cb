//go:build !cgo

package platform

// strata's engine is linked through cgo: build with CGO_ENABLED=1 and a C compiler (gcc or
// clang) on PATH, or CC set to one.
var _ = strata_requires_cgo_build_with_CGO_ENABLED_1_and_a_C_compiler
