package main

import (
	"flag"
	"fmt"

	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/results"
)

// policyFlags defines the flags that set how plugin calls are guarded (pluginhost.Policy) on fs, and returns the
// function that reads them once fs is parsed.
func policyFlags(fs *flag.FlagSet) func() (pluginhost.Policy, error) {
	d := pluginhost.DefaultPolicy()
	base := fs.Duration("call-timeout", d.CallTimeout, "give each plugin call `D` to answer, plus --call-timeout-per-item for each input it carries; a plugin past it is killed, started again and the call retried")
	perItem := fs.Duration("call-timeout-per-item", d.CallTimeoutPerItem, "give each plugin call `D` more for each image, text or embedding it carries")
	heartbeat := fs.Duration("heartbeat", d.Heartbeat, "ask a busy plugin every `D` whether it is alive (a plugin that does not answer within 3 of them is killed, started again and its call retried)")
	attempts := fs.Int("attempts", d.Attempts, "try a call `N` times in all when its plugin crashes or hangs, starting the plugin again in between")
	stop := fs.Duration("stop-timeout", d.StopTimeout, "give a plugin `D` to exit when clipeval ends it (on Ctrl-C too) before killing it")
	return func() (pluginhost.Policy, error) {
		switch {
		case *base <= 0:
			return pluginhost.Policy{}, badInput("--call-timeout %s: want a positive duration (e.g. 10m)", *base)
		case *perItem < 0:
			return pluginhost.Policy{}, badInput("--call-timeout-per-item %s: want a duration of 0 or more (e.g. 2s)", *perItem)
		case *heartbeat <= 0:
			return pluginhost.Policy{}, badInput("--heartbeat %s: want a positive duration (e.g. 10s)", *heartbeat)
		case *attempts < 1:
			return pluginhost.Policy{}, badInput("--attempts %d: want at least 1", *attempts)
		case *stop <= 0:
			return pluginhost.Policy{}, badInput("--stop-timeout %s: want a positive duration (e.g. 5s)", *stop)
		}
		return pluginhost.Policy{CallTimeout: *base, CallTimeoutPerItem: *perItem, Heartbeat: *heartbeat, HeartbeatTimeout: 3 * *heartbeat,
			Attempts: *attempts, Backoff: d.Backoff, StopTimeout: *stop}, nil
	}
}

// keptMessage says what an interrupted run kept in outDir and how to go on from it.
func keptMessage(res *results.Results, outDir, storeDir string) string {
	msg := fmt.Sprintf("%s/results.json keeps the %d model × task run(s) that finished", outDir, len(res.Runs))
	if len(res.Kept) > 0 {
		msg += fmt.Sprintf(" and %d of the earlier run", len(res.Kept))
	}
	if storeDir != "" {
		msg += fmt.Sprintf("; the embedding store in %s keeps every embedding encoded so far", storeDir)
	}
	return msg + "; run the same command again to resume (no report was written: `clipeval report` renders one from results.json)"
}
