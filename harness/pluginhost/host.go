// Package pluginhost finds clipeval plugins in the plugin folder, starts them as go-plugin subprocesses, and wraps
// their clients so that every error names the plugin, and a plugin that exited is reported as such instead of
// hanging the run.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/plugins/sdk"
)

// DirEnvVar overrides the plugin folder.
const DirEnvVar = "CLIPEVAL_PLUGIN_DIR"

// DefaultDir returns the plugin folder: $CLIPEVAL_PLUGIN_DIR, else plugins/ beside the running executable
// (bin/clipeval → bin/plugins/).
func DefaultDir() string {
	if d := os.Getenv(DirEnvVar); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		return "plugins"
	}
	return filepath.Join(filepath.Dir(exe), "plugins")
}

// Host starts plugins from one folder; each plugin runs once and is shared. Close ends them all. It starts only
// the files its folder's checksum list (pluginsums.File) names with their SHA-256 (unless AllowUnverified), each
// with a minimal environment (pluginEnv, plus the variables PassEnv names).
type Host struct {
	dir    string
	logger hclog.Logger

	mu       sync.Mutex
	running  map[string]*Plugin
	starting map[string]chan struct{} // closed when the plugin's launch has ended
	closed   bool

	// allowUnverified starts plugins missing from the checksum list; passEnv are the variables plugins get besides
	// the base set (both under mu).
	allowUnverified bool
	passEnv         []string
}

// New returns a host for the plugins in dir. Plugin log lines go to logOut (nil: discarded).
func New(dir string, logOut io.Writer) *Host {
	if logOut == nil {
		logOut = io.Discard
	}
	return &Host{dir: dir, running: map[string]*Plugin{}, starting: map[string]chan struct{}{},
		logger: hclog.New(&hclog.LoggerOptions{Name: "clipeval", Output: logOut, Level: hclog.Warn})}
}

// Dir returns the plugin folder.
func (h *Host) Dir() string { return h.dir }

// AllowUnverified sets whether plugins missing from the folder's checksum list (or a folder without one) are
// started all the same, with a warning in the log: for development, where plugins are rebuilt by hand. A plugin
// the list names with another checksum is refused either way. It applies to the plugins started afterwards.
func (h *Host) AllowUnverified(allow bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allowUnverified = allow
}

// PassEnv adds variables of the harness's environment that plugins get besides the base set (a config's
// `plugins: env:`). It applies to the plugins started afterwards.
func (h *Host) PassEnv(names ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range names {
		if !slices.Contains(h.passEnv, n) {
			h.passEnv = append(h.passEnv, n)
		}
	}
}

// Plugin is one running plugin process.
type Plugin struct {
	// Name is the plugin's file name; Path its executable.
	Name, Path string
	client     *plugin.Client
	stderr     *tail
}

// Pid returns the plugin's process id.
func (p *Plugin) Pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Exited reports whether the plugin process has ended.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// wrap names the plugin in an error from a call, saying so when the process has exited.
func (p *Plugin) wrap(call string, err error) error {
	if err == nil {
		return nil
	}
	// A dead connection can be noticed before the process reaper; give it a moment to be sure.
	for i := 0; i < 20 && !p.client.Exited() && isTransport(err); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	if p.client.Exited() {
		msg := fmt.Sprintf("plugin %q (%s) exited unexpectedly during %s", p.Name, p.Path, call)
		if t := p.stderr.String(); t != "" {
			msg += "; its last output:\n" + t
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	return fmt.Errorf("plugin %q: %s: %w", p.Name, call, err)
}

func isTransport(err error) bool {
	var r *sdk.RPCError
	return errors.As(err, &r) && (r.Code == "Unavailable" || r.Code == "Canceled" || r.Code == "Internal")
}

func (h *Host) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("plugin name %q is not a file name", name)
	}
	p := filepath.Join(h.dir, name)
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("plugin %q not found in %s (%v): build the plugins with `make build`, or set %s; `clipeval plugins` lists those found",
			name, h.dir, errors.Unwrap(err), DirEnvVar)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("plugin %s is not an executable file", p)
	}
	return p, nil
}

// start launches (or returns the running) plugin called name. Different plugins launch at once; callers asking
// for one that is launching wait for that launch.
func (h *Host) start(name string) (*Plugin, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, fmt.Errorf("starting plugin %q: the plugin host is closed", name)
		}
		if p, ok := h.running[name]; ok && !p.client.Exited() {
			h.mu.Unlock()
			return p, nil
		}
		if done, ok := h.starting[name]; ok {
			h.mu.Unlock()
			<-done
			continue
		}
		done := make(chan struct{})
		h.starting[name] = done
		h.mu.Unlock()

		p, err := h.launch(name)
		h.mu.Lock()
		delete(h.starting, name)
		if err == nil && h.closed { // Close ran during the launch: it must not outlive the host
			p.client.Kill()
			p, err = nil, fmt.Errorf("starting plugin %q: the plugin host was closed", name)
		}
		if err == nil {
			h.running[name] = p
		}
		h.mu.Unlock()
		close(done)
		return p, err
	}
}

// Start launches the named plugins at once (each once) and waits for them, so that a run's plugins start in
// the time of the slowest rather than of all together. A plugin that does not start is left for Model or Task to
// report, with the same error.
func (h *Host) Start(names ...string) {
	var wg sync.WaitGroup
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		wg.Go(func() { _, _ = h.start(name) })
	}
	wg.Wait()
}

// launch starts the plugin process called name and connects to it.
func (h *Host) launch(name string) (*Plugin, error) {
	path, err := h.path(name)
	if err != nil {
		return nil, err
	}
	secure, err := h.secureConfig(name, path)
	if err != nil {
		return nil, err
	}
	tl := &tail{max: 4096}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		Plugins:          sdk.PluginSet(),
		Cmd:              h.command(path),
		SecureConfig:     secure,
		SkipHostEnv:      true, // command sets the plugin's environment
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  sdk.DialOptions(),
		Logger:           h.logger.Named(name),
		Stderr:           tl,
		StartTimeout:     30 * time.Second,
	})
	if _, err := client.Client(); err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, h.mismatch(name, path, secure)
		}
		msg := fmt.Sprintf("starting plugin %q (%s): %v", name, path, err)
		if t := tl.String(); t != "" {
			msg += "; its output:\n" + t
		}
		return nil, errors.New(msg)
	}
	return &Plugin{Name: name, Path: path, client: client, stderr: tl}, nil
}

func (p *Plugin) dispense(kind string) (any, error) {
	rpc, err := p.client.Client()
	if err != nil {
		return nil, p.wrap("connect", err)
	}
	raw, err := rpc.Dispense(kind)
	if err != nil {
		return nil, p.wrap("dispense "+kind, err)
	}
	return raw, nil
}

// Conn returns the plugin's gRPC connection, for callers that must see the contract's messages as they travel
// (the conformance suite reads answer streams chunk by chunk); everyone else uses Model or Task.
func (p *Plugin) Conn() (grpc.ClientConnInterface, error) {
	rpc, err := p.client.Client()
	if err != nil {
		return nil, p.wrap("connect", err)
	}
	g, ok := rpc.(*plugin.GRPCClient)
	if !ok {
		return nil, fmt.Errorf("plugin %q does not speak gRPC", p.Name)
	}
	return g.Conn, nil
}

// Model starts the model plugin called name and returns its client.
func (h *Host) Model(name string) (*Model, error) {
	p, err := h.start(name)
	if err != nil {
		return nil, err
	}
	raw, err := p.dispense(sdk.KindModel)
	if err != nil {
		return nil, err
	}
	return &Model{Plugin: p, c: raw.(*sdk.ModelClient)}, nil
}

// Task starts the task plugin called name and returns its client.
func (h *Host) Task(name string) (*Task, error) {
	p, err := h.start(name)
	if err != nil {
		return nil, err
	}
	raw, err := p.dispense(sdk.KindTask)
	if err != nil {
		return nil, err
	}
	return &Task{Plugin: p, c: raw.(*sdk.TaskClient)}, nil
}

// Close ends every plugin process, all at once.
func (h *Host) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	// All at once: each Kill asks its plugin to shut down and waits for the process to exit.
	var wg sync.WaitGroup
	for name, p := range h.running {
		wg.Go(p.client.Kill)
		delete(h.running, name)
	}
	wg.Wait()
}

// Found is one plugin in the plugin folder, as `clipeval plugins` lists it.
type Found struct {
	Name, Path string
	// Kind is "model" or "task"; empty when the plugin could not be asked.
	Kind string
	// ProtocolVersion is the contract version negotiated in the handshake.
	ProtocolVersion int
	// Info is what the plugin's Describe said; nil when it could not be asked.
	Info *sdk.PluginInfo
	// Verified is set when the file matched its checksum in the folder's list.
	Verified bool
	// Err says why the plugin could not be started or asked; a *VerifyError when it was not started because it
	// is not in the checksum list or does not match it.
	Err error
}

// List starts every file of the plugin folder that its checksum list names with the file's checksum, asks what it
// is, and ends it again. Files not in the list are not run (unless AllowUnverified): they come back with a
// *VerifyError, as do files that differ from the list. The list itself and dot files are left out.
func (h *Host) List(ctx context.Context) ([]Found, error) {
	entries, err := os.ReadDir(h.dir)
	if err != nil {
		return nil, fmt.Errorf("reading plugin folder: %w (build the plugins with `make build`, or set %s)", err, DirEnvVar)
	}
	h.mu.Lock()
	allow := h.allowUnverified
	h.mu.Unlock()
	var out []Found
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || e.Name() == pluginsums.File {
			continue
		}
		f := Found{Name: e.Name(), Path: filepath.Join(h.dir, e.Name())}
		var verr *VerifyError
		switch err := h.Verify(e.Name()); {
		case err == nil:
			f.Verified = true
		case errors.As(err, &verr) && verr.Unlisted() && allow:
		default:
			f.Err = err
			out = append(out, f)
			continue
		}
		f.Kind, f.ProtocolVersion, f.Info, f.Err = h.Describe(ctx, e.Name())
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Describe starts the plugin called name, asks which service it serves and what it is, and ends it again.
func (h *Host) Describe(ctx context.Context, name string) (kind string, version int, info *sdk.PluginInfo, err error) {
	defer h.stop(name)
	m, err := h.Model(name)
	if err != nil {
		return "", 0, nil, err
	}
	version = m.client.NegotiatedVersion()
	// A task plugin does not serve the Model service at all.
	if info, err := m.Describe(ctx, sdk.DescribeRequest{}); err == nil {
		return sdk.KindModel, version, info, nil
	} else if !sdk.IsUnimplemented(err) {
		return "", version, nil, err
	}
	t, err := h.Task(name)
	if err != nil {
		return "", version, nil, err
	}
	info, err = t.Describe(ctx, sdk.DescribeRequest{})
	if err != nil {
		return "", version, nil, err
	}
	return sdk.KindTask, version, info, nil
}

func (h *Host) stop(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.running[name]; ok {
		p.client.Kill()
		delete(h.running, name)
	}
}

// Model is a model plugin's client; every error names the plugin. It implements sdk.Model and sdk.InputModel.
type Model struct {
	*Plugin
	c *sdk.ModelClient
}

var (
	_ sdk.Model      = (*Model)(nil)
	_ sdk.InputModel = (*Model)(nil)
)

// Describe names the backend and its options.
func (m *Model) Describe(ctx context.Context, req sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	info, err := m.c.Describe(ctx, req)
	return info, m.wrap("Describe", err)
}

// CheckModel lists what would stop the backend from loading a model.
func (m *Model) CheckModel(ctx context.Context, req sdk.CheckModelRequest) (*sdk.CheckModelResponse, error) {
	r, err := m.c.CheckModel(ctx, req)
	return r, m.wrap("CheckModel", err)
}

// Info loads and describes a model.
func (m *Model) Info(ctx context.Context, req sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	info, err := m.c.Info(ctx, req)
	return info, m.wrap("Info", err)
}

// EncodeImages encodes one batch of images.
func (m *Model) EncodeImages(ctx context.Context, req sdk.EncodeImagesRequest) (*sdk.EncodeResponse, error) {
	r, err := m.c.EncodeImages(ctx, req)
	return r, m.wrap("EncodeImages", rowsMatch(r, err, len(req.Images), "images"))
}

// EncodeTexts encodes one batch of texts.
func (m *Model) EncodeTexts(ctx context.Context, req sdk.EncodeTextsRequest) (*sdk.EncodeResponse, error) {
	r, err := m.c.EncodeTexts(ctx, req)
	return r, m.wrap("EncodeTexts", rowsMatch(r, err, len(req.Texts), "texts"))
}

// rowsMatch checks that a backend returned one embedding per input.
func rowsMatch(r *sdk.EncodeResponse, err error, n int, what string) error {
	if err == nil && r.Embeddings.Rows != n {
		return fmt.Errorf("returned %d embeddings for %d %s", r.Embeddings.Rows, n, what)
	}
	return err
}

// Preprocess returns the pixels the image tower is fed for images.
func (m *Model) Preprocess(ctx context.Context, req sdk.PreprocessRequest) (*sdk.TensorResponse, error) {
	r, err := m.c.Preprocess(ctx, req)
	return r, m.wrap("Preprocess", err)
}

// Tokenize returns the token ids the text tower is fed for texts.
func (m *Model) Tokenize(ctx context.Context, req sdk.TokenizeRequest) (*sdk.TensorResponse, error) {
	r, err := m.c.Tokenize(ctx, req)
	return r, m.wrap("Tokenize", err)
}

// EncodePixels runs the image tower on pixels.
func (m *Model) EncodePixels(ctx context.Context, req sdk.EncodePixelsRequest) (*sdk.EncodeResponse, error) {
	r, err := m.c.EncodePixels(ctx, req)
	return r, m.wrap("EncodePixels", err)
}

// EncodeTokens runs the text tower on token ids.
func (m *Model) EncodeTokens(ctx context.Context, req sdk.EncodeTokensRequest) (*sdk.EncodeResponse, error) {
	r, err := m.c.EncodeTokens(ctx, req)
	return r, m.wrap("EncodeTokens", err)
}

// Task is a task plugin's client; every error names the plugin.
type Task struct {
	*Plugin
	c *sdk.TaskClient
}

// Describe describes the task and its config keys.
func (t *Task) Describe(ctx context.Context, req sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	info, err := t.c.Describe(ctx, req)
	return info, t.wrap("Describe", err)
}

// Load reads a dataset.
func (t *Task) Load(ctx context.Context, req sdk.LoadRequest) (*sdk.Dataset, error) {
	ds, err := t.c.Load(ctx, req)
	return ds, t.wrap("Load", err)
}

// Score computes metrics from embedding files.
func (t *Task) Score(ctx context.Context, req sdk.ScoreFilesRequest) (*sdk.Scores, error) {
	sc, err := t.c.Score(ctx, req)
	return sc, t.wrap("Score", err)
}

// tail keeps the last max bytes written to it (a plugin's stderr), for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
