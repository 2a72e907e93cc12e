package pluginhost

import (
	"os"
	"os/exec"
	"slices"
	"strings"
)

// baseEnv are the variables every plugin gets from the harness's environment when set: where programs, libraries,
// the home folder and temporary files are (PATH, LD_LIBRARY_PATH, HOME, TMPDIR), the locale and time zone, the
// cache folders (XDG_CACHE_HOME: the digest memo and embedding store rule), the GPU selection, and the Go runtime's
// knobs (a Go plugin's threads, memory limit and tracebacks; GOCOVERDIR for coverage builds).
var baseEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ", "LANG", "LANGUAGE", "LD_LIBRARY_PATH",
	"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "CUDA_VISIBLE_DEVICES",
	"GOMAXPROCS", "GOMEMLIMIT", "GOGC", "GODEBUG", "GOTRACEBACK", "GORACE", "GOCOVERDIR",
}

// baseEnvPrefixes are the prefixes of the other variables every plugin gets: the locale's categories (LC_*),
// clipeval's own (CLIPEVAL_*: CLIPEVAL_ORT_LIB, CLIPEVAL_CACHE_DIR, ...), the thread counts of OpenMP, OpenBLAS and
// MKL (OMP_*, OPENBLAS_*, MKL_*) and the Python interpreter's (PYTHON*: PYTHONPATH, PYTHONHOME, ...) for plugins
// in Python.
var baseEnvPrefixes = []string{"LC_", "CLIPEVAL_", "OMP_", "OPENBLAS_", "MKL_", "PYTHON"}

// pluginEnv returns the environment a plugin starts with, from the harness's environ ("NAME=VALUE" entries): the
// variables of baseEnv and baseEnvPrefixes, and those named in pass, in environ's order. Everything else (cloud
// credentials, tokens, the shell's own variables) stays with the harness. go-plugin adds its handshake variables.
func pluginEnv(environ, pass []string) []string {
	out := []string{} // not nil: a nil Env would be the harness's whole environment
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if slices.Contains(baseEnv, name) || slices.Contains(pass, name) ||
			slices.ContainsFunc(baseEnvPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			out = append(out, kv)
		}
	}
	return out
}

// command returns the command that starts the plugin at path: its executable, with the minimal environment of
// pluginEnv (go-plugin adds its handshake variables; SkipHostEnv keeps it from adding the rest).
func (h *Host) command(path string) *exec.Cmd {
	h.mu.Lock()
	pass := slices.Clone(h.passEnv)
	h.mu.Unlock()
	cmd := exec.Command(path)
	cmd.Env = pluginEnv(os.Environ(), pass)
	return cmd
}
