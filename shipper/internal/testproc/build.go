package testproc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BuildTimeout bounds one build of a helper program; a cold build of the OTLP
// receiver compiles about ninety modules.
const BuildTimeout = 10 * time.Minute

// builds remembers, per test binary, what Build made: building is the one
// thing worth sharing between the tests of a package.
var builds struct {
	mu   sync.Mutex
	done map[string]*buildResult
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the main package pkg ("." or an import path) with the go
// command run in dir, once per test binary, and returns the executable's path.
// dir may be a nested module (it then builds with that module's go.mod).
// A failed build fails the test: a helper that cannot be built is a broken
// test, never a reason to skip one.
func Build(t testing.TB, dir, pkg string) string {
	t.Helper()
	key := dir + "\x00" + pkg
	builds.mu.Lock()
	if builds.done == nil {
		builds.done = map[string]*buildResult{}
	}
	b := builds.done[key]
	if b == nil {
		b = &buildResult{}
		builds.done[key] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() { b.path, b.err = build(dir, pkg) })
	if b.err != nil {
		t.Fatalf("build helper program %s in %s: %v", pkg, dir, b.err)
	}
	return b.path
}

// build writes the executable to a directory named for dir and pkg under the
// temporary directory, so repeated test runs replace one file instead of
// leaving one per run; it builds to a private name and renames, so test
// binaries of other packages building the same program at once never see a
// half-written file.
func build(dir, pkg string) (string, error) {
	sum := sha256.Sum256([]byte(dir + "\x00" + pkg))
	outDir := filepath.Join(os.TempDir(), "capstan-testbin-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("make output dir: %w", err)
	}
	name := filepath.Base(strings.TrimSuffix(filepath.Join(dir, pkg), "/"))
	final := filepath.Join(outDir, name)
	tmp, err := os.CreateTemp(outDir, name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("make output file: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", tmp.Name(), pkg)
	cmd.Dir = dir
	// A go.work of the developer's must not pull the nested module into the
	// main one (or the other way round).
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return "", fmt.Errorf("go build did not finish within %v:\n%s", BuildTimeout, out)
	}
	if err != nil {
		return "", fmt.Errorf("go build: %w:\n%s", err, out)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("install built program: %w", err)
	}
	return final, nil
}

// SourceDir returns the directory of the Go source file that calls it, so a
// test-support package can find a helper program's sources beside its own
// (tests always run from the source tree).
func SourceDir(t testing.TB, file string) string {
	t.Helper()
	if !filepath.IsAbs(file) {
		t.Fatalf("source path %q is not absolute (built with -trimpath?); helper programs are built from the source tree", file)
	}
	return filepath.Dir(file)
}
