package pluginsums

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sha256 of "a\n", "b\n" and "x\n".
const (
	sumA = "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"
	sumB = "0263829989b6fd954f72baaf2fc64bc2e2f01d692d4de72986ea808f6e99813f"
	sumX = "73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     Sums
		err      string
	}{
		{"two lines", sumA + "  a\n" + sumB + "  b\n", Sums{"a": sumA, "b": sumB}, ""},
		{"binary marker, CRLF, blank lines", "\n" + sumA + " *a\r\n\n", Sums{"a": sumA}, ""},
		{"empty", "", Sums{}, ""},
		{"one space", sumA + " a\n", nil, `L line 1: not a checksum line (want "SHA256  NAME")`},
		{"no name", sumA + "\n", nil, "L line 1: not a checksum line"},
		{"short sum", "abc  a\n", nil, `L line 1: "abc" is not a SHA-256 in lower-case hex`},
		{"upper case", strings.ToUpper(sumA) + "  a\n", nil, `L line 1: "` + strings.ToUpper(sumA) + `" is not a SHA-256 in lower-case hex`},
		{"path", sumA + "  ../a\n", nil, `L line 1: "../a" is not a file name`},
		{"twice", sumA + "  a\n" + sumB + "  a\n", nil, "L line 2: a is listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in), "L")
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "plugin checksum list "+tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestReadRefusesAHugeList(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, File), make([]byte, maxSumsBytes+1), 0o644))
	_, err := Read(dir)
	assert.ErrorContains(t, err, "plugin checksum list "+filepath.Join(dir, File)+" is over 1048576 bytes")
}

// TestWrite checks that Write adds and updates the named files, keeps the others still present, drops those gone,
// writes sha256sum's format (checked with sha256sum -c when installed), and refuses what is no plugin.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b", "gone"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("x\n"), 0o755))
	}
	require.NoError(t, Write(dir, "a", "b", "gone"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("a\n"), 0o755))
	require.NoError(t, os.Remove(filepath.Join(dir, "gone")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b"), []byte("b\n"), 0o755)) // changed, not named: kept as was
	require.NoError(t, Write(dir, "a"))
	b, err := os.ReadFile(filepath.Join(dir, File))
	require.NoError(t, err)
	assert.Equal(t, sumA+"  a\n"+sumX+"  b\n", string(b), "a updated, b (not named) as it was, gone dropped")
	require.NoError(t, Write(dir, "b"))
	b, err = os.ReadFile(filepath.Join(dir, File))
	require.NoError(t, err)
	assert.Equal(t, sumA+"  a\n"+sumB+"  b\n", string(b))
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--check", "--strict", File)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, "a: OK\nb: OK\n", string(out))
	}

	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain"), []byte("x"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	for _, tc := range []struct{ name, want string }{
		{"plain", filepath.Join(dir, "plain") + " is not an executable file"},
		{"sub", filepath.Join(dir, "sub") + " is not an executable file"},
		{"nosuch", "no such file or directory"},
		{"../a", `"../a" is not a file name`},
		{File, "is the checksum list itself, not a plugin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(dir, tc.name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "recording a plugin checksum: ")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
