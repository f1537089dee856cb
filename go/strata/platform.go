package strata

// Builds that cannot link the engine (CGO_ENABLED=0, Windows, a platform without a prebuilt
// archive) fail in this import, at compile time, with an identifier that names the fix.
import _ "github.com/strata-db/strata/go/strata/internal/platform"
