package strata

import (
	"errors"
	"strings"
	"testing"
)

func TestLinkedEngineHasThisPackagesIdentity(t *testing.T) {
	if err := checkEngineIdentity(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buildID, engineVersion+"+h") || !strings.HasPrefix(Version(), engineVersion) {
		t.Fatalf("buildID %q, engineVersion %q, Version() %q: one version, three places", buildID, engineVersion, Version())
	}
}

func TestEngineIdentityMismatchSaysHowToRebuild(t *testing.T) {
	if err := identityError("0.1.0+h0000000000000001", "0.1.0+h0000000000000001"); err != nil {
		t.Fatalf("equal identities: %v", err)
	}
	err := identityError("0.1.0+h0000000000000001", "0.2.0+h0000000000000002")
	if !errors.Is(err, ErrEngineMismatch) {
		t.Fatalf("got %v, want ErrEngineMismatch", err)
	}
	for _, want := range []string{"0.1.0+h0000000000000001", "0.2.0+h0000000000000002", "scripts/build.sh", "go get"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
}
