package backend

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/clipeval/clipeval/plugins/sdk"
)

// SessionOptions are the ONNX Runtime settings of a model's two sessions, from the model options.
//
// The defaults suit a machine that also runs clipeval's own work (image decoding and preprocessing in parallel Go
// code, the harness and task plugins) beside inference, often in a container:
//   - intra-op threads: one per physical core the process may use (its CPU affinity mask, capped by the container's
//     CPU quota as GOMAXPROCS is), as ONNX Runtime itself would pick from the machine's topology. ONNX Runtime
//     counts the host's cores, ignoring cpusets and quotas, which oversubscribes a container; and a count it picks
//     itself makes it pin its threads, one per core, which fails outright under a cpuset ("pthread_setaffinity_np
//     failed", onnxruntime#8313, #10113) and stops the kernel from moving a thread off a core that preprocessing
//     or another session is using. Giving the count explicitly turns the pinning off.
//   - spinning for a large tower (an ONNX file of SpinMinBytes or more), none for a small one: spinning workers
//     busy-wait for the next parallel section while a batch runs, and pick it up at once instead of being woken (on
//     a virtual machine a wake-up is an interrupt to a halted CPU); with session.force_spinning_stop they stop when
//     Run returns, leaving the cores to preprocessing and the other processes. A large tower's batch is a chain of
//     long parallel sections, and spinning made the bench model's images 6 % faster through the harness; a small
//     tower's batch is mostly serial operator dispatch, during which a spinning worker only burns a core that the
//     harness and the task plugins need (the demo: 20-50 ms of its CPU time).
//   - sequential execution, every graph optimisation (ONNX Runtime's own defaults): CLIP towers are chains of
//     operators with little to run side by side.
type SessionOptions struct {
	// IntraOpThreads is the thread count within an operator; 0 lets DefaultThreads decide (or ONNX Runtime, with
	// Affinity "ort").
	IntraOpThreads int
	// InterOpThreads, when positive, runs independent operators in parallel (ONNX Runtime's parallel execution
	// mode) on that many threads; 0 runs them in order.
	InterOpThreads int
	// Optimization is the graph optimisation level: "disable", "basic", "extended", "layout" or "all".
	Optimization string
	// Spinning says whether idle ONNX Runtime threads busy-wait for work while a batch runs: SpinAuto (for a tower
	// of SpinMinBytes or more), SpinOn or SpinOff.
	Spinning Spin
	// Affinity is "none" (never pin threads), "ort" (ONNX Runtime's default: it pins one thread per core when it
	// picks the count itself, i.e. with IntraOpThreads 0) or an explicit affinity list in ONNX Runtime's syntax
	// (session.intra_op_thread_affinities: one entry per thread but the calling one, ';' between threads, ','
	// between 1-based logical processors, "a-b" for a range).
	Affinity string
	// Provider is the execution provider the towers run on: ProviderCPU (ONNX Runtime's default), ProviderCUDA or
	// ProviderTensorRT (with CUDA behind it for the nodes TensorRT does not take). The library in use must have it
	// (a GPU build, through CLIPEVAL_ORT_LIB).
	Provider string
}

// Spin is the spinning setting: SpinAuto, SpinOn or SpinOff.
type Spin int8

// The spinning settings: by the tower's size (the default), always, never (option spinning true or false).
const (
	SpinAuto Spin = iota
	SpinOn
	SpinOff
)

// SpinMinBytes is the ONNX file size from which a tower spins under SpinAuto: real CLIP towers are 40 MB and more
// (BiomedCLIP's 345 and 440 MB), test and demo models a few MB at most.
const SpinMinBytes = 64 << 20

// spins reports whether a tower whose ONNX file has size bytes spins under s.
func (s Spin) spins(size int64) bool {
	return s == SpinOn || (s == SpinAuto && size >= SpinMinBytes)
}

// The execution providers of option execution_provider.
const (
	ProviderCPU      = "cpu"
	ProviderCUDA     = "cuda"
	ProviderTensorRT = "tensorrt"
)

// providerNames are ONNX Runtime's names of the execution providers, as results.json's runtime shows them.
var providerNames = map[string]string{ProviderCPU: "CPUExecutionProvider", ProviderCUDA: "CUDAExecutionProvider",
	ProviderTensorRT: "TensorrtExecutionProvider"}

// ProviderError is the error of an execution provider the ONNX Runtime library in use does not have (or cannot
// start: no GPU, no CUDA libraries).
type ProviderError struct {
	// Provider is the option's value (cuda, tensorrt).
	Provider string
	Err      error
}

// Error says which provider failed and why.
func (e *ProviderError) Error() string {
	return fmt.Sprintf("execution_provider %s: ONNX Runtime cannot use %s: %v", e.Provider, providerNames[e.Provider], e.Err)
}

// Unwrap returns ONNX Runtime's error.
func (e *ProviderError) Unwrap() error { return e.Err }

// Model options that set SessionOptions.
const (
	OptionThreads         = "threads"
	OptionInterOpThreads  = "inter_op_threads"
	OptionOptimization    = "graph_optimization"
	OptionSpinning        = "spinning"
	OptionThreadAffinity  = "thread_affinity"
	OptionProvider        = "execution_provider"
	affinityNone          = "none"
	affinityORT           = "ort"
	defaultOptimization   = "all"
	sessionOptionsSummary = "threads, inter_op_threads, graph_optimization, spinning, thread_affinity, execution_provider"
)

// optimizationLevels maps graph_optimization's values to ONNX Runtime's levels (ORT_ENABLE_LAYOUT is 3 in
// onnxruntime_c_api.h; the Go binding has no name for it).
var optimizationLevels = map[string]ort.GraphOptimizationLevel{
	"disable":  ort.GraphOptimizationLevelDisableAll,
	"basic":    ort.GraphOptimizationLevelEnableBasic,
	"extended": ort.GraphOptimizationLevelEnableExtended,
	"layout":   ort.GraphOptimizationLevel(3),
	"all":      ort.GraphOptimizationLevelEnableAll,
}

// optimizationChoices lists graph_optimization's values, least to most.
var optimizationChoices = []string{"disable", "basic", "extended", "layout", "all"}

// sessionOptionFields declares the session options, for OptionFields. Thread counts, spinning and affinity keep
// embeddings (ONNX Runtime's CPU kernels split work across threads by rows and columns, never within a sum, so a
// vector does not depend on how many threads computed it); the optimisation level does not (fused kernels sum in
// another order).
func sessionOptionFields() []sdk.Field {
	return []sdk.Field{
		{Name: OptionThreads, Type: sdk.FieldInt, Min: sdk.Bound(0), KeepsEmbeddings: true,
			Help: "ONNX Runtime intra-op threads (default 0: one per physical core this process may use, within its CPU quota)"},
		{Name: OptionInterOpThreads, Type: sdk.FieldInt, Min: sdk.Bound(0), KeepsEmbeddings: true,
			Help: "> 0: run independent graph nodes in parallel on this many threads (default 0: in order)"},
		{Name: OptionOptimization, Type: sdk.FieldString, Choices: optimizationChoices,
			Help: "ONNX Runtime graph optimisation level (default all); it can change embeddings in the last bits"},
		{Name: OptionSpinning, Type: sdk.FieldBool, KeepsEmbeddings: true,
			Help: "let idle ONNX Runtime threads busy-wait for work while a batch runs (they stop when it returns, leaving the cores to preprocessing); " +
				"false: they sleep between parallel sections and are woken (default: true for a tower whose ONNX file is 64 MiB or more, false for a smaller one)"},
		{Name: OptionThreadAffinity, Type: sdk.FieldString, KeepsEmbeddings: true,
			Help: "none (default: threads are never pinned), ort (ONNX Runtime pins one per core when it picks the count, i.e. threads 0), " +
				"or an explicit list in ONNX Runtime's syntax, one entry per thread but the caller: \"2;3;4\" (1-based processors)"},
		{Name: OptionProvider, Type: sdk.FieldString, Choices: []string{ProviderCPU, ProviderCUDA, ProviderTensorRT},
			Help: "where the towers run: cpu (default), cuda, or tensorrt (with cuda for the nodes TensorRT does not take); cuda and " +
				"tensorrt need an ONNX Runtime GPU build (CLIPEVAL_ORT_LIB) and change embeddings in the last bits, so the store keeps them apart"},
	}
}

// parseSessionOptions reads the session options from a model's options (already checked by checkOption).
func parseSessionOptions(options map[string]string) SessionOptions {
	o := SessionOptions{Optimization: defaultOptimization, Spinning: SpinAuto, Affinity: affinityNone, Provider: ProviderCPU}
	if v, ok := options[OptionThreads]; ok {
		o.IntraOpThreads, _ = strconv.Atoi(v)
	}
	if v, ok := options[OptionInterOpThreads]; ok {
		o.InterOpThreads, _ = strconv.Atoi(v)
	}
	if v, ok := options[OptionOptimization]; ok {
		o.Optimization = v
	}
	if v, ok := options[OptionSpinning]; ok {
		o.Spinning = SpinOff
		if on, _ := strconv.ParseBool(v); on {
			o.Spinning = SpinOn
		}
	}
	if v, ok := options[OptionThreadAffinity]; ok {
		o.Affinity = v
	}
	if v, ok := options[OptionProvider]; ok {
		o.Provider = v
	}
	if n := affinityThreads(o.Affinity); n > 0 && o.IntraOpThreads == 0 {
		o.IntraOpThreads = n
	}
	return o
}

// checkSessionOption checks one session option's value; options are all the model's options, for the checks that
// involve two.
func checkSessionOption(k, v string, options map[string]string) error {
	switch k {
	case OptionThreads, OptionInterOpThreads:
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return fmt.Errorf("option %s %q: want a non-negative integer", k, v)
		}
		if k == OptionThreads {
			if a := options[OptionThreadAffinity]; affinityThreads(a) > 0 && v != "0" && v != strconv.Itoa(affinityThreads(a)) {
				return fmt.Errorf("option threads %s: thread_affinity %q pins %d threads besides the calling one, so threads must be %d (or left out)",
					v, a, affinityThreads(a)-1, affinityThreads(a))
			}
		}
	case OptionOptimization:
		if _, ok := optimizationLevels[v]; !ok {
			return fmt.Errorf("option graph_optimization %q: want one of %s", v, strings.Join(optimizationChoices, ", "))
		}
	case OptionSpinning:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("option spinning %q: want true or false", v)
		}
	case OptionProvider:
		if _, ok := providerNames[v]; !ok {
			return fmt.Errorf("option execution_provider %q: want cpu, cuda or tensorrt", v)
		}
	case OptionThreadAffinity:
		if v == affinityNone || v == affinityORT {
			return nil
		}
		if err := checkAffinityList(v); err != nil {
			return fmt.Errorf("option thread_affinity %q: %w (or give none or ort)", v, err)
		}
	}
	return nil
}

// affinityThreads returns the intra-op thread count an explicit affinity list implies (its entries and the calling
// thread), or 0 for none, ort or a malformed list.
func affinityThreads(a string) int {
	if a == "" || a == affinityNone || a == affinityORT || checkAffinityList(a) != nil {
		return 0
	}
	return strings.Count(a, ";") + 2
}

// checkAffinityList checks an affinity list in ONNX Runtime's syntax: entries separated by ';', each a ','-separated
// list of 1-based logical processors or ranges "a-b" with a <= b.
func checkAffinityList(a string) error {
	for _, entry := range strings.Split(a, ";") {
		if entry == "" {
			return fmt.Errorf("an empty entry")
		}
		for _, p := range strings.Split(entry, ",") {
			lo, hi, isRange := strings.Cut(p, "-")
			if !isRange {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || l < 1 || h < l {
				return fmt.Errorf("%q is not a processor (1, 2, ...) or a range of them (1-4)", p)
			}
		}
	}
	return nil
}

// ortOptions makes the ONNX Runtime session options for o, for a tower whose ONNX file has size bytes; the caller
// destroys them.
func (o SessionOptions) ortOptions(size int64) (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("creating session options: %w", err)
	}
	if err := o.apply(opts, o.Spinning.spins(size)); err != nil {
		opts.Destroy()
		return nil, err
	}
	return opts, nil
}

func (o SessionOptions) apply(opts *ort.SessionOptions, spins bool) error {
	threads := o.IntraOpThreads
	if threads == 0 && o.Affinity != affinityORT {
		threads = DefaultThreads()
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return fmt.Errorf("setting %d intra-op threads: %w", threads, err)
	}
	if o.InterOpThreads > 0 {
		if err := opts.SetExecutionMode(ort.ExecutionModeParallel); err != nil {
			return fmt.Errorf("setting the parallel execution mode: %w", err)
		}
		if err := opts.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return fmt.Errorf("setting %d inter-op threads: %w", o.InterOpThreads, err)
		}
	}
	if err := opts.SetGraphOptimizationLevel(optimizationLevels[o.Optimization]); err != nil {
		return fmt.Errorf("setting graph optimisation %s: %w", o.Optimization, err)
	}
	spin := "0"
	if spins {
		spin = "1"
	}
	// force_spinning_stop ends the spinning when Run returns, so that between runs the cores go to preprocessing
	// and the other processes rather than to busy-waiting (see SessionOptions).
	entries := [][2]string{{"session.intra_op.allow_spinning", spin}, {"session.inter_op.allow_spinning", spin}}
	if spins {
		entries = append(entries, [2]string{"session.force_spinning_stop", "1"})
	}
	if affinityThreads(o.Affinity) > 0 {
		entries = append(entries, [2]string{"session.intra_op_thread_affinities", o.Affinity})
	}
	for _, e := range entries {
		if err := opts.AddSessionConfigEntry(e[0], e[1]); err != nil {
			return fmt.Errorf("setting %s=%s: %w", e[0], e[1], err)
		}
	}
	// Providers are tried in the order appended; the CPU provider, always there, takes whatever is left.
	var err error
	switch o.Provider {
	case ProviderTensorRT:
		if err = appendTensorRT(opts); err == nil {
			err = appendCUDA(opts)
		}
	case ProviderCUDA:
		err = appendCUDA(opts)
	}
	if err != nil {
		return &ProviderError{Provider: o.Provider, Err: err}
	}
	return nil
}

// appendCUDA appends the CUDA execution provider with its default options (device 0: CUDA_VISIBLE_DEVICES picks
// the GPU).
func appendCUDA(opts *ort.SessionOptions) error {
	c, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer c.Destroy()
	return opts.AppendExecutionProviderCUDA(c)
}

// appendTensorRT appends the TensorRT execution provider with its default options.
func appendTensorRT(opts *ort.SessionOptions) error {
	t, err := ort.NewTensorRTProviderOptions()
	if err != nil {
		return err
	}
	defer t.Destroy()
	return opts.AppendExecutionProviderTensorRT(t)
}

// DefaultThreads is the intra-op thread count clipeval gives ONNX Runtime when the threads option is 0: one per
// physical core among the CPUs this process may run on, at most GOMAXPROCS (which honours the container's CPU
// quota) and at least 1. Where the topology cannot be read it is GOMAXPROCS.
func DefaultThreads() int {
	return defaultThreads("/proc/self/status", "/sys/devices/system/cpu", runtime.GOMAXPROCS(0))
}

// defaultThreads is DefaultThreads reading the allowed CPUs from the status file and the topology from sysCPU.
func defaultThreads(status, sysCPU string, maxProcs int) int {
	cpus, err := allowedCPUs(status)
	if err != nil || len(cpus) == 0 {
		return max(maxProcs, 1)
	}
	cores := map[string]bool{}
	for _, c := range cpus {
		b, err := os.ReadFile(filepath.Join(sysCPU, fmt.Sprintf("cpu%d", c), "topology", "thread_siblings_list"))
		if err != nil {
			return max(maxProcs, 1)
		}
		cores[strings.TrimSpace(string(b))] = true
	}
	return max(min(len(cores), maxProcs), 1)
}

// allowedCPUs reads the Cpus_allowed_list line of a /proc/PID/status file ("0-3,8,10-11").
func allowedCPUs(status string) ([]int, error) {
	f, err := os.Open(status)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		list, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:")
		if !ok {
			continue
		}
		var cpus []int
		for _, part := range strings.Split(strings.TrimSpace(list), ",") {
			lo, hi, isRange := strings.Cut(part, "-")
			if !isRange {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || h < l {
				return nil, fmt.Errorf("%s: bad Cpus_allowed_list %q", status, list)
			}
			for c := l; c <= h; c++ {
				cpus = append(cpus, c)
			}
		}
		return cpus, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%s has no Cpus_allowed_list", status)
}
