package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/hashicorp/go-plugin"
)

// Policy says how the host guards the calls to its plugins. A call has CallTimeout plus CallTimeoutPerItem for
// each input it carries (images, texts, embedding rows) to answer; while it runs, the plugin is asked every
// Heartbeat whether it is alive (gRPC's health check, which go-plugin serves) and has HeartbeatTimeout to answer.
// A plugin that crashed, missed its deadline or its heartbeat is killed, started again after Backoff (doubling
// each time) and the call tried again, Attempts times in all. Stopping a plugin gives it StopTimeout to exit
// before it is killed.
type Policy struct {
	CallTimeout, CallTimeoutPerItem time.Duration
	Heartbeat, HeartbeatTimeout     time.Duration
	Attempts                        int
	Backoff                         time.Duration
	StopTimeout                     time.Duration
}

// DefaultPolicy is generous: a call has 10 minutes plus 2 seconds an input (a 32-image batch: 11 minutes), a
// plugin 30 seconds to answer a heartbeat sent every 10, a call 3 attempts 1 and 2 seconds apart, and a plugin 5
// seconds to exit when stopped.
func DefaultPolicy() Policy {
	return Policy{CallTimeout: 10 * time.Minute, CallTimeoutPerItem: 2 * time.Second, Heartbeat: 10 * time.Second,
		HeartbeatTimeout: 30 * time.Second, Attempts: 3, Backoff: time.Second, StopTimeout: 5 * time.Second}
}

// withDefaults fills the fields left zero (or negative) from DefaultPolicy, except CallTimeoutPerItem and Backoff:
// zero there means none (negative: the default).
func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.CallTimeout <= 0 {
		p.CallTimeout = d.CallTimeout
	}
	if p.CallTimeoutPerItem < 0 {
		p.CallTimeoutPerItem = d.CallTimeoutPerItem
	}
	if p.Heartbeat <= 0 {
		p.Heartbeat = d.Heartbeat
	}
	if p.HeartbeatTimeout <= 0 {
		p.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if p.Attempts < 1 {
		p.Attempts = d.Attempts
	}
	if p.Backoff < 0 {
		p.Backoff = d.Backoff
	}
	if p.StopTimeout <= 0 {
		p.StopTimeout = d.StopTimeout
	}
	return p
}

// Deadline is how long a call carrying items inputs may take.
func (p Policy) Deadline(items int) time.Duration {
	return p.CallTimeout + time.Duration(items)*p.CallTimeoutPerItem
}

// fault is why a call's process was given up on: it crashed, or hung.
type fault struct{ what string }

func (f *fault) Error() string { return f.what }

// call runs f on the plugin's current process under the host's policy: with a deadline scaled by items and a
// heartbeat, and again on a fresh process, after a backoff, when the process crashed or hung. A plugin's own error
// and an error of ctx (the caller gave up) come back at once. After the last attempt the error names the plugin,
// the call, the attempts and the plugin's last stderr lines.
func (p *Plugin) call(ctx context.Context, name string, items int, f func(context.Context, *proc) error) error {
	pol := p.host.Policy()
	backoff := pol.Backoff
	for attempt := 1; ; attempt++ {
		pr, err := p.running()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		err = pr.guarded(ctx, pol, items, f)
		if err == nil {
			return nil
		}
		var flt *fault
		if ctx.Err() != nil || !errors.As(err, &flt) {
			return p.wrap(pr, name, err)
		}
		p.kill(pr) // hung, or already dead: make sure it is gone before another starts
		if attempt >= pol.Attempts {
			msg := fmt.Sprintf("plugin %q (%s): %s", p.Name, p.Path, name)
			if items > 0 {
				msg += fmt.Sprintf(" of %d inputs", items)
			}
			if attempt > 1 {
				msg += fmt.Sprintf(" failed %d times (the plugin was started again in between); the last time the plugin", attempt)
			} else {
				msg += ": the plugin"
			}
			msg += " " + flt.what
			if t := pr.stderr.String(); t != "" {
				msg += "; its last output:\n" + t
			}
			return errors.New(msg)
		}
		p.host.logger.Warn(fmt.Sprintf("plugin %q %s during %s; starting it again (attempt %d of %d)", p.Name, flt.what, name, attempt+1, pol.Attempts))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return p.wrap(pr, name, fmt.Errorf("%s, and the run was stopped before it was tried again: %w", flt.what, context.Cause(ctx)))
		}
		backoff *= 2
	}
}

// guarded runs f on pr with the policy's deadline for items and its heartbeat; an answer that came too late or not
// at all, or from a process that died, comes back as a *fault.
func (pr *proc) guarded(ctx context.Context, pol Policy, items int, f func(context.Context, *proc) error) error {
	limit := pol.Deadline(items)
	errLate := &fault{fmt.Sprintf("did not answer within %s", limit)}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tctx, tcancel := context.WithTimeoutCause(cctx, limit, errLate)
	defer tcancel()
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(pol.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-t.C:
			}
			var flt *fault
			if err := pr.ping(tctx, pol.HeartbeatTimeout); errors.As(err, &flt) && tctx.Err() == nil {
				cancel(flt) // crashed or hung: the call is given up on at once
				return
			}
		}
	}()
	err := f(tctx, pr)
	tcancel()
	<-beat
	if err == nil || ctx.Err() != nil {
		return err
	}
	var flt *fault
	switch cause := context.Cause(tctx); {
	case errors.As(cause, &flt):
		return fmt.Errorf("%w: %v", flt, err)
	case status.Code(errors.Unwrap(err)) == codes.DeadlineExceeded || status.Code(err) == codes.DeadlineExceeded:
		// The plugin's side of the call ends at the deadline too, and its answer can come before the timer here.
		return fmt.Errorf("%w: %v", errLate, err)
	case errors.As(err, &flt):
		return err
	case pr.waitExit(err):
		crashed := &fault{"exited unexpectedly (crashed)"}
		return fmt.Errorf("%w: %v", crashed, err)
	}
	return err
}

// ping asks pr whether it is alive, giving it timeout to answer; a late answer is a *fault.
func (pr *proc) ping(ctx context.Context, timeout time.Duration) error {
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := grpc_health_v1.NewHealthClient(pr.conn).Check(hctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	switch {
	case err != nil && ctx.Err() == nil && hctx.Err() != nil:
		return &fault{fmt.Sprintf("stopped answering its heartbeat (none within %s)", timeout)}
	case err != nil && pr.waitExit(err):
		return &fault{"exited unexpectedly (crashed)"}
	case err != nil:
		return err
	case r.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING:
		return &fault{fmt.Sprintf("says it is %s", r.GetStatus())}
	}
	return nil
}

// kill ends pr at once, when it is still the plugin's current process, so that the next call starts another.
func (p *Plugin) kill(pr *proc) {
	p.mu.Lock()
	if p.proc == pr {
		p.proc = nil
	}
	p.mu.Unlock()
	pr.stop(0)
}

// stop ends the process: it is asked to exit and given grace to, then killed; stop returns within about twice
// grace (plus a second) whatever the process does, even when it is stopped (SIGSTOP) or ignores the request. Only
// the first stop of a process does this; later ones wait for it.
func (pr *proc) stop(grace time.Duration) {
	pr.stopped.Do(func() { pr.end(grace) })
}

func (pr *proc) end(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		pr.client.Kill()
	}()
	if grace > 0 {
		select {
		case <-done:
			return
		case <-time.After(grace):
		}
	}
	if pid := pr.pid(); pid > 0 && !pr.client.Exited() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-done:
	case <-time.After(grace + time.Second):
	}
}
