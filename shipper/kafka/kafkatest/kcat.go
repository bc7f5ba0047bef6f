package kafkatest

import (
	"os"
	"os/exec"
	"testing"
)

// NeedKcatEnv names the variable that makes a missing kcat a failure: CI
// installs Debian's kcat and sets it, so the checks by an independent client
// always run there.
const NeedKcatEnv = "CAPSTAN_NEED_KCAT"

// Kcat returns the path of kcat. Without it the test fails when
// CAPSTAN_NEED_KCAT=1 is set, and is skipped (saying how to run it) otherwise.
func Kcat(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err == nil {
		return path
	}
	if os.Getenv(NeedKcatEnv) == "1" {
		t.Fatalf("kcat is not installed and %s=1: apt-get install kcat", NeedKcatEnv)
	}
	t.Skipf("kcat is not installed (apt-get install kcat; %s=1 makes this a failure)", NeedKcatEnv)
	return ""
}
