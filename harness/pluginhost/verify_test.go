package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/internal/plugintest"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
)

// script writes dir/name, a shell script that, when run, creates dir/name.ran and exits without a handshake.
func script(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\ntouch '"+p+".ran'\nexit 3\n"), 0o755))
	return p
}

// ran reports whether the script at p was run.
func ran(p string) bool {
	_, err := os.Stat(p + ".ran")
	return err == nil
}

// changeAfterListing appends to the listed file at p and returns its listed and its new SHA-256.
func changeAfterListing(t *testing.T, p string) (want, got string) {
	t.Helper()
	want, err := pluginsums.FileSHA256(p)
	require.NoError(t, err)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("# replaced\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	got, err = pluginsums.FileSHA256(p)
	require.NoError(t, err)
	return want, got
}

// TestUnverifiedPluginsAreNotRun checks that the host starts only the files its folder's checksum list names with
// their checksum, and says for the others what is wrong and what to do, without running them; AllowUnverified
// starts the unlisted ones, never a changed one.
func TestUnverifiedPluginsAreNotRun(t *testing.T) {
	dir, bare := t.TempDir(), t.TempDir()
	listed, changed, unlisted, noList := script(t, dir, "listed"), script(t, dir, "changed"), script(t, dir, "unlisted"), script(t, bare, "nolist")
	require.NoError(t, pluginsums.Write(dir, "listed", "changed"))
	want, got := changeAfterListing(t, changed)
	list := filepath.Join(dir, pluginsums.File)
	mismatch := fmt.Sprintf("plugin %q (%s) does not match the checksum list %s: expected sha256 %s, the file has %s (it changed "+
		"after the list was written); rebuild the plugins with `make build`, or record this file with `clipeval plugins --write-sums %s` if you trust it",
		"changed", changed, list, want, got, changed)
	notListed := fmt.Sprintf("plugin %q (%s) is not verified: it is not in the checksum list %s; build the plugins with `make build`, "+
		"record this file with `clipeval plugins --write-sums %s` if you trust it, or set CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS=1 to start unverified plugins (development only)",
		"unlisted", unlisted, list, unlisted)
	noListMsg := fmt.Sprintf("plugin %q (%s) is not verified: the plugin folder has no checksum list %s; build the plugins with `make build` "+
		"(it writes the list), record this file with `clipeval plugins --write-sums %s` if you trust it, or set CLIPEVAL_ALLOW_UNVERIFIED_PLUGINS=1 to start unverified plugins (development only)",
		"nolist", noList, filepath.Join(bare, pluginsums.File), noList)
	started := `starting plugin %q (%s): `
	tests := []struct {
		name, dir, plugin, path string
		allow                   bool
		want                    string // the whole error, or its start when it ends in ": "
		run                     bool
	}{
		{"listed", dir, "listed", listed, false, fmt.Sprintf(started, "listed", listed), true},
		{"changed after listing", dir, "changed", changed, false, mismatch, false},
		{"not listed", dir, "unlisted", unlisted, false, notListed, false},
		{"no list", bare, "nolist", noList, false, noListMsg, false},
		{"changed, unverified allowed", dir, "changed", changed, true, mismatch, false},
		{"not listed, unverified allowed", dir, "unlisted", unlisted, true, fmt.Sprintf(started, "unlisted", unlisted), true},
		{"no list, unverified allowed", bare, "nolist", noList, true, fmt.Sprintf(started, "nolist", noList), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.RemoveAll(tc.path+".ran"))
			h := New(tc.dir, nil)
			defer h.Close()
			h.AllowUnverified(tc.allow)
			_, err := h.Task(tc.plugin)
			require.Error(t, err)
			if strings.HasSuffix(tc.want, ": ") {
				assert.True(t, strings.HasPrefix(err.Error(), tc.want), err.Error())
			} else {
				assert.Equal(t, tc.want, err.Error())
				var verr *VerifyError
				assert.True(t, errors.As(err, &verr), "a *VerifyError")
			}
			assert.Equal(t, tc.run, ran(tc.path), "whether the file was run")
		})
	}
}

// TestRememberedDigestsCatchAChangedPlugin checks that a host with a digest memo (RememberDigests) remembers an
// unchanged plugin file's SHA-256 and still refuses the file, without running it, once it changes: rewritten in
// place, or replaced by another file.
func TestRememberedDigestsCatchAChangedPlugin(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the memo remembers nothing outside Linux")
	}
	dir := t.TempDir()
	inPlace, replaced := script(t, dir, "in-place"), script(t, dir, "replaced")
	require.NoError(t, pluginsums.Write(dir, "in-place", "replaced"))
	time.Sleep(digest.RacyWindow + 100*time.Millisecond) // a file that changed just before it is hashed is not remembered
	memoPath := filepath.Join(t.TempDir(), digest.MemoFile)
	start := func(name string) error {
		h := New(dir, nil)
		defer h.Close()
		h.RememberDigests(digest.NewMemo(memoPath))
		_, err := h.Task(name)
		return err
	}
	for _, p := range []string{inPlace, replaced} {
		require.ErrorContains(t, start(filepath.Base(p)), "starting plugin") // verified, run, and no handshake
		require.True(t, ran(p))
		require.NoError(t, os.Remove(p+".ran"))
	}
	memo, err := os.ReadFile(memoPath)
	require.NoError(t, err)
	for _, p := range []string{inPlace, replaced} {
		assert.Contains(t, string(memo), p, "the memo remembers the plugin's digest")
	}

	want, got := changeAfterListing(t, inPlace)
	wantR, err := pluginsums.FileSHA256(replaced)
	require.NoError(t, err)
	tmp := replaced + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte("#!/bin/sh\ntouch '"+replaced+".ran'\nexit 4\n"), 0o755))
	require.NoError(t, os.Rename(tmp, replaced))
	gotR, err := pluginsums.FileSHA256(replaced)
	require.NoError(t, err)
	tests := []struct{ path, want, got string }{{inPlace, want, got}, {replaced, wantR, gotR}}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			err := start(filepath.Base(tc.path))
			var verr *VerifyError
			require.True(t, errors.As(err, &verr), "a *VerifyError: %v", err)
			assert.Equal(t, tc.want, verr.Want)
			assert.Equal(t, tc.got, verr.Got)
			assert.False(t, ran(tc.path), "the changed file was run")
		})
	}
}

// TestListRunsOnlyVerified checks that List asks only the plugins the checksum list names with their checksum and
// reports the rest without running them.
func TestListRunsOnlyVerified(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, plugintest.BuildTestPlugins(dir, "harness/pluginhost/testdata/envtask"))
	unlisted, changed := script(t, dir, "unlisted"), script(t, dir, "changed")
	require.NoError(t, pluginsums.Write(dir, "changed"))
	want, got := changeAfterListing(t, changed)
	h := New(dir, nil)
	defer h.Close()
	found, err := h.List(context.Background())
	require.NoError(t, err)
	var names []string
	for _, f := range found {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"changed", "envtask", "unlisted"}, names, "the checksum list itself is no plugin")
	var verr *VerifyError
	require.True(t, errors.As(found[0].Err, &verr), "changed: %v", found[0].Err)
	assert.Equal(t, VerifyError{Name: "changed", Path: changed, List: filepath.Join(dir, pluginsums.File), Want: want, Got: got}, *verr)
	assert.Equal(t, Found{Name: "envtask", Path: filepath.Join(dir, "envtask"), Kind: sdk.KindTask, ProtocolVersion: sdk.ProtocolVersion,
		Info: found[1].Info, Verified: true}, found[1])
	require.True(t, errors.As(found[2].Err, &verr), "unlisted: %v", found[2].Err)
	assert.True(t, verr.Unlisted())
	assert.False(t, ran(unlisted), "an unlisted file was run")
	assert.False(t, ran(changed), "a changed file was run")
}

// TestPluginEnvironment checks that a plugin process sees the base variables and those PassEnv names, and not the
// rest of the harness's environment (a cloud secret).
func TestPluginEnvironment(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, plugintest.BuildTestPlugins(dir, "harness/pluginhost/testdata/envtask"))
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
	t.Setenv("MY_TOKEN", "named")
	t.Setenv("NOT_NAMED", "x")
	t.Setenv("OMP_NUM_THREADS", "3")
	t.Setenv("PYTHONPATH", "/opt/py")
	t.Setenv("CLIPEVAL_CACHE_DIR", "/tmp/cache")
	tests := []struct {
		name string
		pass []string
		want map[string]string // "" for a variable that must be absent
	}{
		{"base set", nil, map[string]string{"AWS_SECRET_ACCESS_KEY": "", "MY_TOKEN": "", "NOT_NAMED": "", "OMP_NUM_THREADS": "3",
			"PYTHONPATH": "/opt/py", "CLIPEVAL_CACHE_DIR": "/tmp/cache", "PATH": os.Getenv("PATH")}},
		{"a variable named", []string{"MY_TOKEN"}, map[string]string{"AWS_SECRET_ACCESS_KEY": "", "MY_TOKEN": "named", "NOT_NAMED": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(dir, nil)
			defer h.Close()
			h.PassEnv(tc.pass...)
			task, err := h.Task("envtask")
			require.NoError(t, err)
			info, err := task.Describe(context.Background(), sdk.DescribeRequest{})
			require.NoError(t, err)
			env := map[string]string{}
			for _, kv := range strings.Split(info.Description, "\n") {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
				allowed := slices.Contains(baseEnv, k) || slices.Contains(tc.pass, k) || strings.HasPrefix(k, "PLUGIN_") ||
					slices.ContainsFunc(baseEnvPrefixes, func(p string) bool { return strings.HasPrefix(k, p) })
				assert.True(t, allowed, "the plugin sees %s", k)
			}
			for k, v := range tc.want {
				assert.Equal(t, v, env[k], k)
			}
		})
	}
}

func TestPluginEnvFilter(t *testing.T) {
	environ := []string{"PATH=/bin", "AWS_SECRET_ACCESS_KEY=s", "HOME=/h", "LC_ALL=C", "CLIPEVAL_ORT_LIB=/l.so", "OPENBLAS_NUM_THREADS=1",
		"PYTHONHOME=/p", "MY_TOKEN=t", "PATHX=1", "=odd", "noequals", "GOMAXPROCS=2", "XDG_CACHE_HOME=/c"}
	tests := []struct {
		name string
		pass []string
		want []string
	}{
		{"base set", nil, []string{"PATH=/bin", "HOME=/h", "LC_ALL=C", "CLIPEVAL_ORT_LIB=/l.so", "OPENBLAS_NUM_THREADS=1", "PYTHONHOME=/p",
			"GOMAXPROCS=2", "XDG_CACHE_HOME=/c"}},
		{"named", []string{"MY_TOKEN", "UNSET"}, []string{"PATH=/bin", "HOME=/h", "LC_ALL=C", "CLIPEVAL_ORT_LIB=/l.so", "OPENBLAS_NUM_THREADS=1",
			"PYTHONHOME=/p", "MY_TOKEN=t", "GOMAXPROCS=2", "XDG_CACHE_HOME=/c"}},
		{"nothing", nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := environ
			if tc.name == "nothing" {
				in = []string{"SECRET=x"}
			}
			got := pluginEnv(in, tc.pass)
			assert.Equal(t, tc.want, got)
			assert.NotNil(t, got, "a nil environment would be the harness's whole one")
		})
	}
}
