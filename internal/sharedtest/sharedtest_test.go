package sharedtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptional(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "here.txt"), nil, 0o644))
	t.Setenv(EnvVar, dir)
	t.Setenv("CI", "")
	p, ok := Optional(t, "here.txt")
	assert.True(t, ok)
	assert.Equal(t, filepath.Join(dir, "here.txt"), p)
	p, ok = Optional(t, "gone", "x.txt")
	assert.False(t, ok, "a missing path is reported, and the test goes on without CI")
	assert.Equal(t, filepath.Join(dir, "gone", "x.txt"), p)
}

// With CI set, a missing path fails the test: run in a child process, which must fail.
func TestOptionalFailsUnderCI(t *testing.T) {
	if os.Getenv("SHAREDTEST_CHILD") != "" {
		Optional(t, "gone.txt")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestOptionalFailsUnderCI$")
	cmd.Env = append(os.Environ(), "SHAREDTEST_CHILD=1", "CI=1", EnvVar+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child must fail:\n%s", out)
	assert.Contains(t, string(out), "CI is set, so this fails")
}
