// Package slurmtest starts a real one-node Slurm cluster (munged, slurmctld and slurmd) for a test, with
// everything it needs — munge key, slurm.conf, state, spool, logs, sockets — in the test's temporary folder, so
// that nothing in /etc/slurm, /etc/munge, /run or /var is read or written.
//
// Start skips the test when Slurm's daemons and clients are not installed (Debian: slurm-wlm and munge, which
// `make test-deps` installs) or when the test does not run as root (slurmd must, to start jobs), except when the
// CI environment variable is set: then either is a test failure. The daemons run as children of the test process
// and are stopped, with every job process they started, when the test ends (t.Cleanup), pass or fail.
//
// Client commands (sbatch, squeue, scontrol, …) reach the cluster through the environment Env returns: SLURM_CONF
// names the generated slurm.conf, whose AuthInfo names the cluster's own munge socket.
package slurmtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start waits for the node to come up idle.
const StartTimeout = 30 * time.Second

// PollInterval is how often Start and Wait ask the controller for the node's or the job's state.
const PollInterval = 100 * time.Millisecond

// Partition is the cluster's one partition (the default), holding its one node.
const Partition = "debug"

// ClusterName is the ClusterName in the generated slurm.conf.
const ClusterName = "slurmtest"

// Cluster is a running one-node Slurm cluster. Its methods may be called from the test's goroutine and others.
type Cluster struct {
	t        testing.TB
	dir      string
	conf     string
	node     string
	socket   string
	env      []string
	bins     map[string]string
	procs    []*daemon
	stopOnce sync.Once
}

// daemon is one started daemon process (its own process group) and where its output goes.
type daemon struct {
	name string
	cmd  *exec.Cmd
	logs []string // files to show on a failure: the daemon's log file and its captured stdout/stderr
	done chan struct{}
	err  error // cmd.Wait's result, set before done is closed
}

// Start starts munged, slurmctld and slurmd in a new temporary folder and returns once the node is idle, skipping
// the test when Slurm is not installed or the test is not root (failing it when CI is set). Everything it starts
// is stopped in t.Cleanup.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bins, err := findBinaries()
	if err != nil {
		unavailable(t, err.Error()+" (Debian: apt-get install slurm-wlm munge, or `make test-deps` as root)")
	}
	if os.Geteuid() != 0 {
		unavailable(t, "not root: slurmd starts jobs as their user, and the cluster runs as SlurmUser=root")
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatalf("slurmtest: hostname: %v", err)
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i] // slurmd names its node by the short host name
	}
	killOrphans()
	c := &Cluster{t: t, dir: t.TempDir(), node: host, bins: bins}
	t.Cleanup(c.Stop)
	if err := c.start(); err != nil {
		c.Stop()
		t.Fatalf("slurmtest: %v\n%s", err, c.logTails())
	}
	return c
}

// unavailable skips the test, or fails it when CI is set (CI must run the Slurm tests).
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("slurmtest: %s (CI is set, so this fails)", why)
	}
	t.Skipf("slurmtest: %s", why)
}

// binaries are the daemons the cluster runs and the client commands Start and the Cluster's methods run.
func binaries() []string {
	return []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol"}
}

// findBinaries returns the path of every daemon and client, or an error naming those missing. A daemon not on
// PATH is also looked for in the sbin directories, which a non-login root shell's PATH may lack.
func findBinaries() (map[string]string, error) {
	sbinDirs := []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}
	bins := map[string]string{}
	var missing []string
	for _, name := range binaries() {
		p, err := exec.LookPath(name)
		if err != nil {
			for _, d := range sbinDirs {
				if st, e := os.Stat(filepath.Join(d, name)); e == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
					p, err = filepath.Join(d, name), nil
					break
				}
			}
		}
		if err != nil {
			missing = append(missing, name)
			continue
		}
		bins[name] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("Slurm is not installed: %s not found on PATH or in %s", strings.Join(missing, ", "),
			strings.Join(sbinDirs, ", "))
	}
	return bins, nil
}

// Dir returns the cluster's temporary folder (slurm.conf, munge/, state/, spool/, log/, run/); tests may put their
// batch scripts and job output there too.
func (c *Cluster) Dir() string { return c.dir }

// Conf returns the path of the generated slurm.conf.
func (c *Cluster) Conf() string { return c.conf }

// MungeSocket returns the path of the cluster's munge socket, for `munge -S` / `unmunge -S` (Slurm's own commands
// find it through slurm.conf's AuthInfo).
func (c *Cluster) MungeSocket() string { return c.socket }

// Node returns the name of the cluster's one node.
func (c *Cluster) Node() string { return c.node }

// Env returns the environment for Slurm client commands (sbatch, squeue, scontrol, srun …) talking to this
// cluster: the test's environment without its SLURM_*/SBATCH_*/SALLOC_*/SRUN_*/SQUEUE_*/… variables (a test run
// inside a Slurm job must not leak that job's settings), plus SLURM_CONF naming the cluster's slurm.conf and a
// PATH that holds the Slurm binaries. The munge socket reaches the clients through slurm.conf's AuthInfo
// (libmunge reads no environment variable). Jobs inherit this environment from sbatch; Stop kills what carries it.
func (c *Cluster) Env() []string { return append([]string(nil), c.env...) }

// Submit runs `sbatch --parsable ARGS...` in Dir and returns the job id it printed (an array job's id, for an
// array).
func (c *Cluster) Submit(ctx context.Context, args ...string) (string, error) {
	out, err := c.run(ctx, "sbatch", append([]string{"--parsable"}, args...)...)
	if err != nil {
		return "", fmt.Errorf("slurmtest: submitting: %w", err)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";") // "ID" or "ID;CLUSTER"
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("slurmtest: sbatch printed %q, not a job id", out)
	}
	return id, nil
}

// TaskState is the outcome of one job, or one task of an array job, as `scontrol show job` reports it.
type TaskState struct {
	JobID      string // the task's own job id (JobId)
	ArrayTask  string // ArrayTaskId; empty for a job that is no array
	State      string // JobState: COMPLETED, FAILED, CANCELLED, TIMEOUT, …
	ExitCode   string // ExitCode: "exit:signal", e.g. "0:0", "3:0"
	StateCause string // Reason, e.g. NonZeroExitCode
}

// Failed reports whether the task did not complete with exit code 0.
func (s TaskState) Failed() bool { return s.State != "COMPLETED" || s.ExitCode != "0:0" }

// name is how an error names the task: "array task 2 (job 7)" or "job 7".
func (s TaskState) name() string {
	if s.ArrayTask != "" {
		return fmt.Sprintf("array task %s (job %s)", s.ArrayTask, s.JobID)
	}
	return "job " + s.JobID
}

// Wait polls until every task of the job (each array task, for an array job) has left the queue, then returns an
// error naming each task that did not complete with exit code 0, or nil when all did. It gives up with ctx's
// error when ctx ends first.
func (c *Cluster) Wait(ctx context.Context, jobID string) error {
	_, err := c.WaitStates(ctx, jobID)
	return err
}

// WaitStates is Wait, also returning the final state of every task of the job, sorted by array task id.
func (c *Cluster) WaitStates(ctx context.Context, jobID string) ([]TaskState, error) {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		out, err := c.run(ctx, "squeue", "-h", "-j", jobID, "-o", "%i %T")
		if err != nil {
			return nil, fmt.Errorf("slurmtest: waiting for job %s: %w", jobID, err)
		}
		if strings.TrimSpace(out) == "" {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("slurmtest: waiting for job %s (still queued: %s): %w", jobID,
				strings.Join(strings.Fields(out), " "), ctx.Err())
		case <-tick.C:
		}
	}
	states, err := c.JobStates(ctx, jobID)
	if err != nil {
		return nil, err
	}
	var failed []string
	for _, s := range states {
		if s.Failed() {
			failed = append(failed, fmt.Sprintf("%s %s (exit code %s, reason %s)", s.name(), s.State, s.ExitCode,
				s.StateCause))
		}
	}
	if len(failed) > 0 {
		return states, fmt.Errorf("slurmtest: job %s: %d of %d tasks failed: %s", jobID, len(failed), len(states),
			strings.Join(failed, "; "))
	}
	return states, nil
}

// JobStates returns the state of every task of the job as `scontrol show job` reports it now (finished jobs stay
// known for MinJobAge, 300 s), sorted by array task id. Array tasks that have not started yet share one record.
func (c *Cluster) JobStates(ctx context.Context, jobID string) ([]TaskState, error) {
	out, err := c.run(ctx, "scontrol", "-o", "show", "job", jobID)
	if err != nil {
		return nil, fmt.Errorf("slurmtest: state of job %s: %w", jobID, err)
	}
	var states []TaskState
	for _, line := range strings.Split(out, "\n") {
		f := fields(line)
		if f["JobId"] == "" {
			continue
		}
		states = append(states, TaskState{JobID: f["JobId"], ArrayTask: f["ArrayTaskId"], State: f["JobState"],
			ExitCode: f["ExitCode"], StateCause: f["Reason"]})
	}
	if len(states) == 0 {
		return nil, fmt.Errorf("slurmtest: scontrol show job %s reported no job: %q", jobID, out)
	}
	sort.SliceStable(states, func(i, j int) bool { return taskLess(states[i].ArrayTask, states[j].ArrayTask) })
	return states, nil
}

// taskLess orders array task ids numerically ("2" before "10"), ranges and others after, as strings.
func taskLess(a, b string) bool {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return x < y
	case errA == nil || errB == nil:
		return errA == nil
	}
	return a < b
}

// fields splits a one-line `scontrol -o show` record into its KEY=VALUE pairs (the first of each key).
func fields(line string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(line) {
		k, v, ok := strings.Cut(kv, "=")
		if _, seen := m[k]; ok && !seen {
			m[k] = v
		}
	}
	return m
}

// Run runs a Slurm client command (by name, e.g. "scontrol") with the cluster's environment in Dir and returns
// its standard output; the error carries its standard error.
func (c *Cluster) Run(ctx context.Context, name string, args ...string) (string, error) {
	return c.run(ctx, name, args...)
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	bin := c.bins[name]
	if bin == "" {
		bin = name
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Stop stops every daemon (SIGTERM to its process group, SIGKILL after 5 s), then kills every process of the
// cluster left (slurmstepd and job processes, which leave slurmd's process group: those whose SLURM_CONF is the
// cluster's, or that hold its slurmd.log open). It is registered with t.Cleanup; calling it again does nothing.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		// slurmd and slurmctld first, munged (which they need to talk) last.
		for i := len(c.procs) - 1; i >= 0; i-- {
			if err := c.procs[i].stop(5 * time.Second); err != nil {
				c.t.Logf("slurmtest: %v", err)
			}
		}
		if c.conf != "" {
			killStragglers(c.dir)
		}
	})
}

// start writes the configuration and starts the daemons, returning when the node is idle.
func (c *Cluster) start() error {
	for _, d := range []string{"munge", "sock", "state", "spool", "log", "run"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o700); err != nil {
			return fmt.Errorf("making %s: %w", d, err)
		}
	}
	// munged checks that its key, log and seed directories are no one else's to write, and that everyone may
	// reach its socket (execute permission on its directory and every one above it). t.TempDir's folders are
	// 0700, so the socket gets its own 0755 directory and munged runs with --force, which turns the remaining
	// complaint about the test's 0700 temporary folder above it into a warning (only root uses the socket).
	for _, d := range []string{c.dir, filepath.Join(c.dir, "munge")} {
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("chmod %s: %w", d, err)
		}
	}
	if err := os.Chmod(filepath.Join(c.dir, "sock"), 0o755); err != nil {
		return fmt.Errorf("chmod sock: %w", err)
	}
	key := make([]byte, 1024)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("munge key: %w", err)
	}
	keyFile := filepath.Join(c.dir, "munge", "munge.key")
	if err := os.WriteFile(keyFile, key, 0o400); err != nil {
		return fmt.Errorf("munge key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, ownerFile), []byte(owner(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", ownerFile, err)
	}
	c.socket = filepath.Join(c.dir, "sock", "munge.socket")
	c.conf = filepath.Join(c.dir, "slurm.conf")

	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	if err := c.writeConfig(ports[0], ports[1]); err != nil {
		return err
	}
	c.env = clientEnv(c.conf, c.bins)

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	// In the foreground munged logs to stderr (log/munged.out); --log-file only keeps it off /var/log/munge.
	munged, err := c.spawn("munged", nil,
		"--foreground", "--force", "--key-file="+keyFile, "--socket="+c.socket,
		"--pid-file="+filepath.Join(c.dir, "run", "munged.pid"),
		"--log-file="+filepath.Join(c.dir, "log", "munged.log"),
		"--seed-file="+filepath.Join(c.dir, "munge", "munged.seed"))
	if err != nil {
		return err
	}
	if err := c.poll(ctx, "munged's socket", func() (bool, error) {
		_, err := os.Stat(c.socket)
		return err == nil, nil
	}, munged); err != nil {
		return err
	}
	ctld, err := c.spawn("slurmctld", []string{filepath.Join(c.dir, "log", "slurmctld.log")},
		"-D", "-f", c.conf)
	if err != nil {
		return err
	}
	if err := c.poll(ctx, "slurmctld to answer", func() (bool, error) {
		out, err := c.run(ctx, "scontrol", "ping")
		return err == nil && strings.Contains(out, "UP"), nil
	}, munged, ctld); err != nil {
		return err
	}
	slurmd, err := c.spawn("slurmd", []string{filepath.Join(c.dir, "log", "slurmd.log")},
		"-D", "-f", c.conf, "-N", c.node)
	if err != nil {
		return err
	}
	state := "unknown to slurmctld"
	if err := c.poll(ctx, "node "+c.node+" to be idle", func() (bool, error) {
		out, err := c.run(ctx, "scontrol", "-o", "show", "node", c.node)
		if err != nil {
			return false, nil
		}
		f := fields(out)
		state = f["State"]
		if r := f["Reason"]; r != "" {
			state += " (reason " + r + ")"
		}
		return f["State"] == "IDLE", nil
	}, munged, ctld, slurmd); err != nil {
		return fmt.Errorf("%w; node state %s", err, state)
	}
	return nil
}

// poll calls ready every PollInterval until it reports true, failing when ready fails, when ctx ends first or when
// one of the watched daemons exits.
func (c *Cluster) poll(ctx context.Context, what string, ready func() (bool, error), watch ...*daemon) error {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		ok, err := ready()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		for _, d := range watch {
			select {
			case <-d.done:
				return fmt.Errorf("waiting for %s: %s exited: %v", what, d.name, d.err)
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// writeConfig writes slurm.conf, and the empty plugstack.conf it names (so /etc/slurm's is not read).
func (c *Cluster) writeConfig(ctldPort, slurmdPort int) error {
	d := func(p ...string) string { return filepath.Join(append([]string{c.dir}, p...)...) }
	plugstack := d("plugstack.conf")
	if err := os.WriteFile(plugstack, nil, 0o644); err != nil {
		return fmt.Errorf("writing plugstack.conf: %w", err)
	}
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	b.WriteString("# Generated by internal/slurmtest for one test; removed with the test's temporary folder.\n")
	kv("ClusterName", ClusterName)
	// The controller's address is given, so that the host name need not resolve.
	kv("SlurmctldHost", c.node+"(127.0.0.1)")
	kv("SlurmUser", "root")
	kv("SlurmdUser", "root")
	kv("SlurmctldPort", ctldPort)
	kv("SlurmdPort", slurmdPort)
	kv("AuthType", "auth/munge")
	kv("AuthInfo", "socket="+c.socket)
	kv("CredType", "cred/munge")
	kv("ProctrackType", "proctrack/linuxproc")
	kv("TaskPlugin", "task/none")
	kv("SwitchType", "switch/none")
	kv("MpiDefault", "none")
	kv("SelectType", "select/cons_tres")
	// Cores only: memory is no consumable resource, so jobs without --mem do not each take the whole node.
	kv("SelectTypeParameters", "CR_Core")
	kv("ReturnToService", 2)
	// Finished jobs stay known to scontrol (there is no accounting database) long enough for Wait to read them.
	kv("MinJobAge", 300)
	kv("JobAcctGatherType", "jobacct_gather/none")
	kv("AccountingStorageType", "accounting_storage/none")
	kv("JobCompType", "jobcomp/none")
	kv("PlugStackConfig", plugstack)
	kv("MailProg", "/bin/true")
	kv("StateSaveLocation", d("state"))
	kv("SlurmdSpoolDir", d("spool"))
	kv("SlurmctldPidFile", d("run", "slurmctld.pid"))
	kv("SlurmdPidFile", d("run", "slurmd.pid"))
	kv("SlurmctldLogFile", d("log", "slurmctld.log"))
	kv("SlurmdLogFile", d("log", "slurmd.log"))
	kv("SlurmctldDebug", "info")
	kv("SlurmdDebug", "info")
	// The node is what the configuration says, whatever the hardware slurmd finds (a container's CPU quota, …).
	kv("SlurmdParameters", "config_overrides")
	// Schedule a submitted or freed-up batch job at once, not up to 3 s later (batch_sched_delay's default).
	kv("SchedulerParameters", "batch_sched_delay=0")
	// Kill a cancelled job's processes at once rather than after 30 s.
	kv("KillWait", 1)
	fmt.Fprintf(&b, "NodeName=%s NodeAddr=127.0.0.1 CPUs=%d RealMemory=%d State=UNKNOWN\n", c.node,
		runtime.NumCPU(), memoryMB())
	fmt.Fprintf(&b, "PartitionName=%s Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n", Partition)
	if err := os.WriteFile(c.conf, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing slurm.conf: %w", err)
	}
	return nil
}

// memoryMB is three quarters of the machine's memory in MB (/proc/meminfo's MemTotal), or 1024 when unknown.
func memoryMB() int {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 1024
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.Atoi(f[1]); err == nil && kb >= 4096 {
				return kb / 1024 * 3 / 4
			}
		}
	}
	return 1024
}

// freePorts returns n distinct TCP ports free on every interface now (the daemons bind them moments later).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close() // held until all are picked, so that they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// clientEnv is the environment of every daemon and client: the test's own without Slurm's job and client
// variables, SLURM_CONF, and PATH with the Slurm binaries' directories in front.
func clientEnv(conf string, bins map[string]string) []string {
	var env []string
	path := ""
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if k == "PATH" {
			path = v
			continue
		}
		if hasAnyPrefix(k, "SLURM_", "SBATCH_", "SALLOC_", "SRUN_", "SQUEUE_", "SINFO_", "SCONTROL_", "SACCT_") {
			continue
		}
		env = append(env, kv)
	}
	var dirs []string
	seen := map[string]bool{}
	for _, name := range binaries() {
		if dir := filepath.Dir(bins[name]); !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	if path != "" {
		dirs = append(dirs, path)
	}
	return append(env, "SLURM_CONF="+conf, "PATH="+strings.Join(dirs, string(os.PathListSeparator)))
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// spawn starts a daemon in the foreground in its own process group, its stdout and stderr in log/NAME.out;
// logFiles are the daemon's own log files, shown (with NAME.out) when Start fails.
func (c *Cluster) spawn(name string, logFiles []string, args ...string) (*daemon, error) {
	outPath := filepath.Join(c.dir, "log", name+".out")
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	defer out.Close() // the child holds its own copy
	cmd := exec.Command(c.bins[name], args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	endWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, logs: append(logFiles, outPath), done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	c.procs = append(c.procs, d)
	return d, nil
}

// stop sends SIGTERM to the daemon's process group and, after grace, SIGKILL; it returns when the daemon is gone.
func (d *daemon) stop(grace time.Duration) error {
	select {
	case <-d.done:
		return nil
	default:
	}
	pgid := d.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-d.done:
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", d.name, pgid, grace)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) survived SIGKILL", d.name, pgid)
	}
}

// ownerFile, in a cluster's folder, names the test process that started the cluster: "PID.STARTTIME" (STARTTIME
// as /proc/PID/stat's 22nd field). The next Start kills what a test process left behind when it died without
// running its cleanups (go test's -timeout panic, SIGKILL), which the parent-death signal ends only for the daemons.
const ownerFile = "slurmtest.owner"

// owner returns the ownerFile value for a running process, or "" when it is gone.
func owner(pid int) string {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	// The command name (2nd field) is in parentheses and may hold spaces: the fields after it follow its ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return strconv.Itoa(pid) + "." + f[19] // field 22 (starttime); f[0] is field 3 (state)
}

// ownerGone reports whether the test process a cluster folder's ownerFile names has ended: no /proc entry for its
// pid, or one that started at another time (the pid was reused). It reports false when it cannot tell.
func ownerGone(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false
	}
	v := strings.TrimSpace(string(data))
	pidStr, _, _ := strings.Cut(v, ".")
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	if _, err := os.Stat(filepath.Join("/proc", pidStr)); errors.Is(err, os.ErrNotExist) {
		return true
	}
	now := owner(pid)
	return now != "" && now != v
}

// clusterDir returns the folder of the slurmtest cluster a process belongs to, or "": the folder of the slurm.conf
// its SLURM_CONF names (daemons, and jobs, which inherit sbatch's environment), else the folder whose
// log/slurmd.log it holds open (slurmstepd, whose process title overwrites the start of its environment).
func clusterDir(proc string) string {
	if env, err := os.ReadFile(filepath.Join(proc, "environ")); err == nil {
		for _, kv := range bytes.Split(env, []byte{0}) {
			if conf, ok := bytes.CutPrefix(kv, []byte("SLURM_CONF=")); ok && filepath.Base(string(conf)) == "slurm.conf" {
				if d := filepath.Dir(string(conf)); fileExists(filepath.Join(d, ownerFile)) {
					return d
				}
			}
		}
	}
	fds, err := os.ReadDir(filepath.Join(proc, "fd"))
	if err != nil {
		return ""
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
		if err != nil || filepath.Base(target) != "slurmd.log" {
			continue
		}
		if d := filepath.Dir(filepath.Dir(target)); fileExists(filepath.Join(d, ownerFile)) {
			return d
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// killOrphans kills every process of a slurmtest cluster whose test process is no longer running, then removes
// those clusters' folders (which that test process's cleanup would have).
func killOrphans() {
	gone := map[string]bool{}
	killEach(func(dir string) bool {
		if ownerGone(dir) {
			gone[dir] = true
		}
		return gone[dir]
	})
	for dir := range gone {
		_ = os.RemoveAll(dir)
		_ = os.Remove(filepath.Dir(dir)) // t.TempDir's per-test folder, when nothing else is left in it
	}
}

// killStragglers kills (SIGKILL) every process left of the cluster in dir: the slurmstepd processes its slurmd
// started, which leave its process group and session, and their jobs. It repeats until a pass finds none (a job
// may fork while it runs), at most ten times.
func killStragglers(dir string) {
	for range 10 {
		if killEach(func(d string) bool { return d == dir }) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// killEach sends SIGKILL to each process but this one that belongs to a cluster folder match accepts, and returns
// how many it signalled.
func killEach(match func(dir string) bool) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self, n := os.Getpid(), 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if d := clusterDir(filepath.Join("/proc", e.Name())); d != "" && match(d) && syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// logTails returns the last lines of every daemon's logs, for a failure message.
func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, d := range c.procs {
		for _, f := range d.logs {
			fmt.Fprintf(&b, "--- %s: %s\n%s", d.name, f, tail(f, 40))
		}
	}
	return b.String()
}

// tail returns the last n lines of a file, or why it could not be read.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(none)\n"
		}
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// LogTails returns the last lines of each daemon's logs (munged, slurmctld, slurmd), for a test's failure message.
func (c *Cluster) LogTails() string { return c.logTails() }
