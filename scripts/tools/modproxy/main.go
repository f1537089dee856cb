// Command modproxy writes one version of a module into a directory laid out as a Go module
// proxy (GOPROXY=file://DIR), with the module zip made as the public proxy makes it: from the
// tagged commit through git (golang.org/x/mod/zip.CreateFromVCS), so the files a user downloads
// are exactly those a release tag publishes (no vendor or nested-module directories, no
// untracked files).
//
//	modproxy -repo DIR -module PATH -version vX.Y.Z -out PROXYDIR
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

func main() {
	repo := flag.String("repo", "", "git repository holding the tag")
	modPath := flag.String("module", "", "module path")
	version := flag.String("version", "", "version (the tag), vX.Y.Z")
	out := flag.String("out", "", "proxy directory to write into")
	flag.Parse()
	if *repo == "" || *modPath == "" || *version == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*repo, *modPath, *version, *out); err != nil {
		log.Fatalf("modproxy: %v", err)
	}
}

func write(repo, modPath, version, out string) error {
	escaped, err := module.EscapePath(modPath)
	if err != nil {
		return err
	}
	dir := filepath.Join(out, escaped, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var zipped bytes.Buffer
	mv := module.Version{Path: modPath, Version: version}
	if err := zip.CreateFromVCS(&zipped, mv, repo, version, ""); err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	goMod, err := git(repo, "show", version+":go.mod")
	if err != nil {
		return err
	}
	when, err := git(repo, "log", "-1", "--format=%cI", version)
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(when))
	if err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, t.UTC()})
	if err != nil {
		return err
	}
	files := map[string][]byte{
		version + ".zip":  zipped.Bytes(),
		version + ".mod":  []byte(goMod),
		version + ".info": info,
		"list":            []byte(version + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s@%s: %s (%d bytes)\n", modPath, version, filepath.Join(dir, version+".zip"), zipped.Len())
	return nil
}

func git(repo string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(b), nil
}
