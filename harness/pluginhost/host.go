// Package pluginhost finds clipeval plugins in the plugin folder, starts them as go-plugin subprocesses, and wraps
// their clients so that every error names the plugin, every call has a deadline and a heartbeat, and a plugin that
// crashed or hung is killed, started again and the call retried (a bounded number of times) instead of hanging or
// failing the run. No plugin outlives the harness: on Linux a plugin is killed when the harness dies, and the SDK's
// serving side ends a plugin whose harness is gone.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
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
	"google.golang.org/grpc/status"

	"github.com/clipeval/clipeval/harness/pluginsums"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/digest"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
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

// Host starts plugins from one folder; each plugin runs once and is shared. Every call to a plugin goes through
// the host's Policy: it has a deadline and a heartbeat, and a plugin that crashed or hung is killed, started again
// and the call tried again (see Policy). Close ends them all. It starts only the files its folder's checksum list
// (pluginsums.File) names with their SHA-256 (unless AllowUnverified), each with a minimal environment (pluginEnv,
// plus the variables PassEnv names).
type Host struct {
	dir    string
	logger hclog.Logger
	policy Policy

	mu      sync.Mutex
	plugins map[string]*Plugin
	closed  bool

	// allowUnverified starts plugins missing from the checksum list; passEnv are the variables plugins get besides
	// the base set; digests remembers plugin files' SHA-256 (nil: each start reads its file) (all under mu).
	allowUnverified bool
	passEnv         []string
	digests         *digest.Memo
}

// New returns a host for the plugins in dir, with DefaultPolicy. Plugin log lines go to logOut (nil: discarded).
func New(dir string, logOut io.Writer) *Host {
	if logOut == nil {
		logOut = io.Discard
	}
	return &Host{dir: dir, plugins: map[string]*Plugin{}, policy: DefaultPolicy(),
		logger: hclog.New(&hclog.LoggerOptions{Name: "clipeval", Output: logOut, Level: hclog.Warn})}
}

// SetPolicy sets how the host guards plugin calls, for the calls made after it.
func (h *Host) SetPolicy(p Policy) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.policy = p.withDefaults()
}

// Policy returns how the host guards plugin calls.
func (h *Host) Policy() Policy {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.policy
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

// RememberDigests has the host take a plugin file's SHA-256, which it checks before every start, from memo when the
// file is unchanged since memo last saw it (same path, size, modification and status-change times, device and
// inode: see digest.Memo), instead of reading the whole file each time (four plugins are about 60 MB). Verify
// always reads the file. nil (the default) remembers nothing.
func (h *Host) RememberDigests(memo *digest.Memo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.digests = memo
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

// Plugin is one plugin of the folder, as the host runs it: one process at a time, started when first needed and
// again after it crashed or hung.
type Plugin struct {
	// Name is the plugin's file name; Path its executable.
	Name, Path string
	host       *Host

	// launch is held while the process is being started, so that one caller starts it and the others wait.
	launch sync.Mutex
	mu     sync.Mutex
	proc   *proc // the running process; nil before the first start and after a kill
	gen    int   // how many processes have been started
	// datasets are the task's loaded datasets by the id the first Load returned, to load again in a new process.
	datasets map[string]*loaded
}

// proc is one plugin process.
type proc struct {
	client *plugin.Client
	conn   *grpc.ClientConn
	stderr *tail
	gen    int
	// stopped makes stop end the process once, however many callers give up on it at the same time.
	stopped sync.Once
}

// Pid returns the process id of the plugin's current process; 0 when none runs.
func (p *Plugin) Pid() int {
	p.mu.Lock()
	pr := p.proc
	p.mu.Unlock()
	if pr == nil {
		return 0
	}
	return pr.pid()
}

func (pr *proc) pid() int {
	if rc := pr.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Exited reports whether the plugin's current process has ended (or was never started).
func (p *Plugin) Exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc == nil || p.proc.client.Exited()
}

// wrap names the plugin in an error from a call to process pr, saying so when the process has exited.
func (p *Plugin) wrap(pr *proc, call string, err error) error {
	if err == nil {
		return nil
	}
	if pr != nil && pr.waitExit(err) {
		msg := fmt.Sprintf("plugin %q (%s) exited unexpectedly during %s", p.Name, p.Path, call)
		if t := pr.stderr.String(); t != "" {
			msg += "; its last output:\n" + t
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	return fmt.Errorf("plugin %q: %s: %w", p.Name, call, err)
}

// waitExit reports whether the process has exited, giving it a moment after a transport error: a dead connection
// can be noticed before the process reaper.
func (pr *proc) waitExit(err error) bool {
	for i := 0; i < 20 && !pr.client.Exited() && isTransport(err); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	return pr.client.Exited()
}

// isTransport reports whether err says the connection to the plugin failed (as a plugin that died leaves it).
func isTransport(err error) bool {
	code := status.Code(err).String()
	if r := (*sdk.RPCError)(nil); errors.As(err, &r) {
		code = r.Code
	}
	return code == "Unavailable" || code == "Canceled" || code == "Internal"
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

// plugin returns the host's handle of the plugin called name, made on first use.
func (h *Host) plugin(name string) (*Plugin, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("starting plugin %q: the plugin host is closed", name)
	}
	p, ok := h.plugins[name]
	if !ok {
		p = &Plugin{Name: name, Path: filepath.Join(h.dir, name), host: h, datasets: map[string]*loaded{}}
		h.plugins[name] = p
	}
	return p, nil
}

// start returns the running plugin called name, starting its process when none runs. Different plugins start at
// once; callers asking for one that is starting wait for that start.
func (h *Host) start(name string) (*Plugin, error) {
	p, err := h.plugin(name)
	if err != nil {
		return nil, err
	}
	if _, err := p.running(); err != nil {
		return nil, err
	}
	return p, nil
}

// running returns the plugin's process, starting one when none runs (first use, or after a crash or a kill).
func (p *Plugin) running() (*proc, error) {
	p.launch.Lock()
	defer p.launch.Unlock()
	p.mu.Lock()
	pr := p.proc
	p.mu.Unlock()
	if pr != nil && !pr.client.Exited() {
		return pr, nil
	}
	pr, err := p.host.launch(p.Name)
	if err != nil {
		p.mu.Lock()
		again := p.gen > 0
		p.mu.Unlock()
		if again {
			return nil, fmt.Errorf("plugin %q is gone, and starting it again failed: %w", p.Name, err)
		}
		return nil, err
	}
	p.host.mu.Lock()
	closed := p.host.closed
	p.host.mu.Unlock()
	if closed { // Close ran during the launch: it must not outlive the host
		pr.stop(p.host.Policy().StopTimeout)
		return nil, fmt.Errorf("starting plugin %q: the plugin host was closed", p.Name)
	}
	p.mu.Lock()
	p.gen++
	pr.gen = p.gen
	p.proc = pr
	p.mu.Unlock()
	return pr, nil
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
func (h *Host) launch(name string) (*proc, error) {
	path, err := h.path(name)
	if err != nil {
		return nil, err
	}
	if err := h.checkFile(name, path); err != nil {
		return nil, err
	}
	tl := &tail{max: 4096}
	cmd := h.command(path)
	endWithParent(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		Plugins:          sdk.PluginSet(),
		Cmd:              cmd,
		SkipHostEnv:      true, // command sets the plugin's environment
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  sdk.DialOptions(),
		Logger:           h.logger.Named(name),
		Stderr:           tl,
		SyncStderr:       tl, // what the plugin writes to os.Stderr once it serves, which go-plugin forwards
		StartTimeout:     30 * time.Second,
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		msg := fmt.Sprintf("starting plugin %q (%s): %v", name, path, err)
		if t := tl.String(); t != "" {
			msg += "; its output:\n" + t
		}
		return nil, errors.New(msg)
	}
	g, ok := rpc.(*plugin.GRPCClient)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("starting plugin %q (%s): it does not speak gRPC", name, path)
	}
	return &proc{client: client, conn: g.Conn, stderr: tl}, nil
}

// Conn returns the plugin's gRPC connection, for callers that must see the contract's messages as they travel
// (the conformance suite reads answer streams chunk by chunk); everyone else uses Model or Task.
func (p *Plugin) Conn() (grpc.ClientConnInterface, error) {
	pr, err := p.running()
	if err != nil {
		return nil, err
	}
	return pr.conn, nil
}

// Model starts the model plugin called name and returns its client.
func (h *Host) Model(name string) (*Model, error) {
	p, err := h.start(name)
	if err != nil {
		return nil, err
	}
	return &Model{Plugin: p}, nil
}

// Task starts the task plugin called name and returns its client.
func (h *Host) Task(name string) (*Task, error) {
	p, err := h.start(name)
	if err != nil {
		return nil, err
	}
	return &Task{Plugin: p}, nil
}

// Close ends every plugin process, all at once: each is asked to exit and killed when it has not within the
// policy's StopTimeout, so that Close returns in about that time even when a plugin hangs.
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	plugins := h.plugins
	h.plugins = map[string]*Plugin{}
	grace := h.policy.StopTimeout
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range plugins {
		wg.Go(func() { p.stop(grace) })
	}
	wg.Wait()
}

// stop ends the plugin's process, if one runs, within about grace.
func (p *Plugin) stop(grace time.Duration) {
	p.mu.Lock()
	pr := p.proc
	p.proc = nil
	p.mu.Unlock()
	if pr != nil {
		pr.stop(grace)
	}
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
	if pr, err := m.running(); err == nil {
		version = pr.client.NegotiatedVersion()
	}
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
	p, ok := h.plugins[name]
	delete(h.plugins, name)
	grace := h.policy.StopTimeout
	h.mu.Unlock()
	if ok {
		p.stop(grace)
	}
}

// Model is a model plugin's client; every error names the plugin, and every call is guarded by the host's Policy.
// It implements sdk.Model and sdk.InputModel.
type Model struct {
	*Plugin
}

var (
	_ sdk.Model      = (*Model)(nil)
	_ sdk.InputModel = (*Model)(nil)
)

// model calls f with the model client of the plugin's current process, under the host's Policy.
func model[T any](ctx context.Context, m *Model, call string, items int, f func(context.Context, *sdk.ModelClient) (T, error)) (T, error) {
	var out T
	err := m.call(ctx, call, items, func(ctx context.Context, pr *proc) error {
		var err error
		out, err = f(ctx, sdk.NewModelClient(pr.conn))
		return err
	})
	return out, err
}

// Describe names the backend and its options.
func (m *Model) Describe(ctx context.Context, req sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return model(ctx, m, "Describe", 0, func(ctx context.Context, c *sdk.ModelClient) (*sdk.PluginInfo, error) { return c.Describe(ctx, req) })
}

// CheckModel lists what would stop the backend from loading a model.
func (m *Model) CheckModel(ctx context.Context, req sdk.CheckModelRequest) (*sdk.CheckModelResponse, error) {
	return model(ctx, m, "CheckModel", 0, func(ctx context.Context, c *sdk.ModelClient) (*sdk.CheckModelResponse, error) {
		return c.CheckModel(ctx, req)
	})
}

// Info loads and describes a model.
func (m *Model) Info(ctx context.Context, req sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	return model(ctx, m, "Info", 0, func(ctx context.Context, c *sdk.ModelClient) (*sdk.ModelInfo, error) { return c.Info(ctx, req) })
}

// EncodeImages encodes one batch of images.
func (m *Model) EncodeImages(ctx context.Context, req sdk.EncodeImagesRequest) (*sdk.EncodeResponse, error) {
	return model(ctx, m, "EncodeImages", len(req.Images), func(ctx context.Context, c *sdk.ModelClient) (*sdk.EncodeResponse, error) {
		r, err := c.EncodeImages(ctx, req)
		return r, embeddingsSound(r, err, len(req.Images), "images")
	})
}

// EncodeTexts encodes one batch of texts.
func (m *Model) EncodeTexts(ctx context.Context, req sdk.EncodeTextsRequest) (*sdk.EncodeResponse, error) {
	return model(ctx, m, "EncodeTexts", len(req.Texts), func(ctx context.Context, c *sdk.ModelClient) (*sdk.EncodeResponse, error) {
		r, err := c.EncodeTexts(ctx, req)
		return r, embeddingsSound(r, err, len(req.Texts), "texts")
	})
}

// embeddingsSound checks that a backend returned one embedding per input, each of finite values.
func embeddingsSound(r *sdk.EncodeResponse, err error, n int, what string) error {
	if err != nil {
		return err
	}
	e := r.Embeddings
	if e.Rows != n {
		return fmt.Errorf("returned %d embeddings for %d %s (a backend returns one row per input, in order)", e.Rows, n, what)
	}
	for i, v := range e.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("returned %v in the embedding of %s %d of the batch (value %d): a model's embeddings must be finite; check the export (e.g. fp16 overflow) and its input",
				v, what[:len(what)-1], i/max(e.Cols, 1)+1, i%max(e.Cols, 1)+1)
		}
	}
	return nil
}

// Preprocess returns the pixels the image tower is fed for images.
func (m *Model) Preprocess(ctx context.Context, req sdk.PreprocessRequest) (*sdk.TensorResponse, error) {
	return model(ctx, m, "Preprocess", len(req.Images), func(ctx context.Context, c *sdk.ModelClient) (*sdk.TensorResponse, error) {
		return c.Preprocess(ctx, req)
	})
}

// Tokenize returns the token ids the text tower is fed for texts.
func (m *Model) Tokenize(ctx context.Context, req sdk.TokenizeRequest) (*sdk.TensorResponse, error) {
	return model(ctx, m, "Tokenize", len(req.Texts), func(ctx context.Context, c *sdk.ModelClient) (*sdk.TensorResponse, error) {
		return c.Tokenize(ctx, req)
	})
}

// EncodePixels runs the image tower on pixels.
func (m *Model) EncodePixels(ctx context.Context, req sdk.EncodePixelsRequest) (*sdk.EncodeResponse, error) {
	return model(ctx, m, "EncodePixels", rows(req.Pixels), func(ctx context.Context, c *sdk.ModelClient) (*sdk.EncodeResponse, error) {
		return c.EncodePixels(ctx, req)
	})
}

// EncodeTokens runs the text tower on token ids.
func (m *Model) EncodeTokens(ctx context.Context, req sdk.EncodeTokensRequest) (*sdk.EncodeResponse, error) {
	return model(ctx, m, "EncodeTokens", rows(req.IDs), func(ctx context.Context, c *sdk.ModelClient) (*sdk.EncodeResponse, error) {
		return c.EncodeTokens(ctx, req)
	})
}

// rows is the first dimension of a tensor: the number of inputs it holds.
func rows(a *npy.Array) int {
	if a == nil || len(a.Shape) == 0 {
		return 0
	}
	return a.Shape[0]
}

// Task is a task plugin's client; every error names the plugin, and every call is guarded by the host's Policy.
// A task whose process was started again loads its datasets again before it scores one.
type Task struct {
	*Plugin
}

// loaded is a dataset a task loaded: the request, to load it again in a new process, and its id there.
type loaded struct {
	req          sdk.LoadRequest
	images, text int
	gen          int    // the process the dataset is loaded in
	id           string // its id in that process
}

// task calls f with the task client of the plugin's current process, under the host's Policy.
func task[T any](ctx context.Context, t *Task, call string, items int, f func(context.Context, *proc, *sdk.TaskClient) (T, error)) (T, error) {
	var out T
	err := t.call(ctx, call, items, func(ctx context.Context, pr *proc) error {
		var err error
		out, err = f(ctx, pr, sdk.NewTaskClient(pr.conn))
		return err
	})
	return out, err
}

// Describe describes the task and its config keys.
func (t *Task) Describe(ctx context.Context, req sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return task(ctx, t, "Describe", 0, func(ctx context.Context, _ *proc, c *sdk.TaskClient) (*sdk.PluginInfo, error) {
		return c.Describe(ctx, req)
	})
}

// Load reads a dataset. The host keeps the request, to load the dataset again should the plugin be started again.
func (t *Task) Load(ctx context.Context, req sdk.LoadRequest) (*sdk.Dataset, error) {
	return task(ctx, t, "Load", 0, func(ctx context.Context, pr *proc, c *sdk.TaskClient) (*sdk.Dataset, error) {
		ds, err := c.Load(ctx, req)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		t.datasets[ds.ID] = &loaded{req: req, images: len(ds.Images), text: len(ds.Texts), gen: pr.gen, id: ds.ID}
		t.mu.Unlock()
		return ds, nil
	})
}

// Score computes metrics from embedding files.
func (t *Task) Score(ctx context.Context, req sdk.ScoreFilesRequest) (*sdk.Scores, error) {
	items := req.ImageEmbeddings.Rows + req.TextEmbeddings.Rows
	return task(ctx, t, "Score", items, func(ctx context.Context, pr *proc, c *sdk.TaskClient) (*sdk.Scores, error) {
		id, err := t.reload(ctx, pr, c, req.DatasetID)
		if err != nil {
			return nil, err
		}
		req.DatasetID = id
		return c.Score(ctx, req)
	})
}

// Alive makes sure the task's process runs and answers, and holds the datasets loaded before: one that exited or
// does not answer its health check is started again and loads them again. A run calls it before it spends a
// model's encoding on the task.
func (t *Task) Alive(ctx context.Context) error {
	return t.call(ctx, "a health check", 0, func(ctx context.Context, pr *proc) error {
		if err := pr.ping(ctx, t.host.Policy().HeartbeatTimeout); err != nil {
			return err
		}
		t.mu.Lock()
		var ids []string
		for id := range t.datasets {
			ids = append(ids, id)
		}
		t.mu.Unlock()
		c := sdk.NewTaskClient(pr.conn)
		for _, id := range ids {
			if _, err := t.reload(ctx, pr, c, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// reload returns the id in process pr of the dataset the first Load called id, loading it there first when the
// process is not the one that loaded it.
func (t *Task) reload(ctx context.Context, pr *proc, c *sdk.TaskClient, id string) (string, error) {
	t.mu.Lock()
	d, ok := t.datasets[id]
	t.mu.Unlock()
	if !ok || d.gen == pr.gen {
		if ok {
			return d.id, nil
		}
		return id, nil
	}
	ds, err := c.Load(ctx, d.req)
	if err != nil {
		return "", fmt.Errorf("loading the dataset again in the restarted plugin: %w", err)
	}
	if len(ds.Images) != d.images || len(ds.Texts) != d.text {
		return "", fmt.Errorf("loading the dataset again in the restarted plugin gave %d images and %d texts, the first load %d and %d: the dataset changed during the run",
			len(ds.Images), len(ds.Texts), d.images, d.text)
	}
	t.mu.Lock()
	d.gen, d.id = pr.gen, ds.ID
	t.mu.Unlock()
	return ds.ID, nil
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
