package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wantFlags is the Flags: section each command's --help prints (CLIPEVAL_PLUGIN_DIR=/plugins); "" for none.
var wantFlags = map[string]string{
	"run": `Flags:
  --attempts N
      try a call N times in all when its plugin crashes or hangs, starting the plugin again in between (default 3)
  --baseline FILE
      compare the run with the results.json FILE (regression gate)
  --cache-dir DIR
      the embedding store's folder DIR (default: $CLIPEVAL_CACHE_DIR, else $XDG_CACHE_HOME/clipeval, else ~/.cache/clipeval)
  --call-timeout D
      give each plugin call D to answer, plus --call-timeout-per-item for each input it carries; a plugin past it is killed, started again and the call retried (default 10m0s)
  --call-timeout-per-item D
      give each plugin call D more for each image, text or embedding it carries (default 2s)
  --fresh
      run every model × task again instead of keeping the finished runs of the output folder's results.json
  --heartbeat D
      ask a busy plugin every D whether it is alive (a plugin that does not answer within 3 of them is killed, started again and its call retried) (default 10s)
  --no-cache
      neither read nor write the embedding store: encode every input
  --out DIR
      write the outputs to DIR (default: the config's output.dir)
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
  --quiet
      print nothing but errors and the files written: no progress, no summary
  --shard I/N
      encode only shard I/N (from 0) of every dataset into DIR/shards/ and score nothing (clipeval merge DIR scores the shards); auto/N takes I from a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX), auto also N from the Slurm array
  --stop-timeout D
      give a plugin D to exit when clipeval ends it (on Ctrl-C too) before killing it (default 5s)
`,
	"merge": `Flags:
  --attempts N
      try a call N times in all when its plugin crashes or hangs, starting the plugin again in between (default 3)
  --baseline FILE
      compare the results with the results.json FILE (regression gate)
  --call-timeout D
      give each plugin call D to answer, plus --call-timeout-per-item for each input it carries; a plugin past it is killed, started again and the call retried (default 10m0s)
  --call-timeout-per-item D
      give each plugin call D more for each image, text or embedding it carries (default 2s)
  --config FILE
      merge for the config FILE (default: the one the shards name; its digest must match theirs)
  --fresh
      score every model × task again instead of keeping the finished runs of the output folder's results.json
  --heartbeat D
      ask a busy plugin every D whether it is alive (a plugin that does not answer within 3 of them is killed, started again and its call retried) (default 10s)
  --out DIR
      write results.json and the reports to DIR (default: the folder merged)
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
  --quiet
      print nothing but errors and the files written: no progress, no summary
  --stop-timeout D
      give a plugin D to exit when clipeval ends it (on Ctrl-C too) before killing it (default 5s)
`,
	"validate": `Flags:
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
`,
	"plugins": `Flags:
  --check
      run the conformance suite on the plugin executables given as arguments
  --dataset FILE
      with --check: a task's dataset and options as the JSON FILE {"dataset": {...}, "options": {...}}, to load and score
  --model DIR
      with --check: a model folder DIR for a backend to load and encode with
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
  --write-sums
      record the plugin executables given as arguments in their folder's checksum list (SHA256SUMS), as make build does
`,
	"embed": `Flags:
  --backend NAME
      the model backend plugin NAME (default onnx)
  --batch-size N
      send N inputs per backend call (default 32)
  --images FILE...
      encode the image files FILE... (every argument up to the next flag)
  --model DIR
      the model folder DIR (required)
  --option KEY=VALUE
      backend option KEY=VALUE (repeatable), e.g. logit_scale=100, bpe=FILE
  --out FILE
      write the .npy to FILE (required)
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
  --quiet
      print nothing but errors and the file written: no progress
  --texts FILE.json
      encode the texts of FILE.json, a JSON array of strings
`,
	"serve": `Flags:
  --backend NAME
      run the towers with the model backend plugin NAME (default onnx)
  --listen HOST:PORT
      listen on HOST:PORT; 0.0.0.0:PORT listens on every interface, port 0 on a free port (printed) (default 127.0.0.1:8001)
  --max-message-mb N
      take and send gRPC messages up to N MiB (default 256)
  --model DIR
      the model folder DIR to serve (required)
  --name NAME
      serve the models NAME-image and NAME-text (default: the model folder's base name)
  --option KEY=VALUE
      backend option KEY=VALUE (repeatable), e.g. execution_provider=cuda, text_padding=full
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
  --tls-cert FILE
      serve TLS with the PEM certificate (chain) FILE (with --tls-key)
  --tls-key FILE
      the PEM private key FILE of --tls-cert
  --token TOKEN
      take only calls with the metadata authorization: Bearer TOKEN
  --token-file FILE
      like --token, with the token read from FILE (white space around it ignored)
`,
	"preprocess": `Flags:
  --backend NAME
      the model backend plugin NAME (default onnx)
  --batch-size N
      send N inputs per backend call (default 32)
  --model DIR
      the model folder DIR (required)
  --option KEY=VALUE
      backend option KEY=VALUE (repeatable), e.g. logit_scale=100, bpe=FILE
  --out FILE
      write the .npy to FILE (required)
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
`,
	"tokenize": `Flags:
  --backend NAME
      the model backend plugin NAME (default onnx)
  --batch-size N
      send N inputs per backend call (default 32)
  --model DIR
      the model folder DIR (required)
  --option KEY=VALUE
      backend option KEY=VALUE (repeatable), e.g. logit_scale=100, bpe=FILE
  --out FILE
      write the .npy to FILE (required)
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
  --texts FILE.json
      the texts of FILE.json, a JSON array of strings
`,
	"golden": `Flags:
  --backend NAME
      the model backend plugin NAME (default onnx)
  --batch-size N
      send N inputs per backend call (default 32)
  --images FILE...
      the image files FILE... (every argument up to the next flag)
  --model DIR
      the model folder DIR (required)
  --option KEY=VALUE
      backend option KEY=VALUE (repeatable), e.g. logit_scale=100, bpe=FILE
  --out FILE
      write the .npz to FILE (required)
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
  --texts FILE.json
      the texts of FILE.json, a JSON array of strings
`,
	"verify-export": `Flags:
  --atol A
      absolute tolerance A per element (default 1e-05)
  --backend NAME
      the model backend plugin NAME (default onnx)
  --batch-size N
      send N inputs per backend call (default 32)
  --golden FILE
      the golden .npz FILE written by clipeval golden (required)
  --junit FILE
      also write JUnit XML to FILE, one test case per output
  --min-cosine C
      smallest cosine similarity C per row (default 0.99999)
  --model DIR
      the model folder DIR (required)
  --option KEY=VALUE
      backend option KEY=VALUE (repeatable), e.g. logit_scale=100, bpe=FILE
  --plugin-dir DIR
      start the plugins found in DIR (default /plugins)
  --rtol R
      relative tolerance R per element (default 0.0001)
`,
	"report": `Flags:
  --out DIR
      write the report to DIR (required)
`,
	"compare": `Flags:
  --junit FILE
      write JUnit XML to FILE
  --markdown FILE
      write the Markdown table to FILE
  --metric NAME
      compare the metric NAME (repeatable; default: each run's headline metrics)
  --tolerance AMOUNT
      absolute tolerance AMOUNT of every metric in its display unit: percentage points for fractions, ranks for ranks (default: CURRENT's compare: tolerances)
`,
	"cache": `Flags:
  --all
      with prune: remove every entry (also clears a store that verify reports damaged)
  --cache-dir DIR
      the embedding store's folder DIR (default: $CLIPEVAL_CACHE_DIR, else $XDG_CACHE_HOME/clipeval, else ~/.cache/clipeval)
  --model FINGERPRINT
      with prune: remove the model FINGERPRINT, or the one whose fingerprint starts with it (at least 8 digits; repeatable)
  --unused-for AGE
      with prune: remove the models no run has used for AGE (a Go duration such as 36h, or days such as 30d)
`,
	"version": "",
	"help":    "",
}

// TestEveryCommandHasHelp asks every command the CLI dispatches for its usage in each of the three ways and for an
// unknown flag.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Setenv("CLIPEVAL_PLUGIN_DIR", "/plugins")
	cmds := commands()
	require.Len(t, wantFlags, len(cmds), "wantFlags lists every command")
	for _, c := range cmds {
		t.Run(c.name, func(t *testing.T) {
			flags, ok := wantFlags[c.name]
			require.True(t, ok, "wantFlags has no entry for %q", c.name)
			want := "usage: " + strings.TrimSpace("clipeval "+c.name+" "+c.synopsis) + "\n\n" + c.desc + "\n"
			if flags != "" {
				want += "\n" + flags
			}
			tests := []struct {
				name     string
				args     []string
				wantCode int
				wantOut  string
				wantErr  string
			}{
				{"--help", []string{c.name, "--help"}, 0, want, ""},
				{"-h", []string{c.name, "-h"}, 0, want, ""},
				{"help CMD", []string{"help", c.name}, 0, want, ""},
				{"--help after arguments", []string{c.name, "x", "--help"}, 0, want, ""},
				{"unknown flag", []string{c.name, "--no-such-flag"}, 2, "",
					"clipeval: " + c.name + ": flag provided but not defined: -no-such-flag\n\n" + want},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					code, out, errOut := invoke(tc.args...)
					assert.Equal(t, tc.wantCode, code)
					assert.Equal(t, tc.wantOut, out)
					assert.Equal(t, tc.wantErr, errOut)
				})
			}
		})
	}
}

func TestHelpOfOneCommandIsExact(t *testing.T) {
	code, out, errOut := invoke("report", "--help")
	assert.Equal(t, 0, code)
	assert.Equal(t, "", errOut)
	assert.Equal(t, `usage: clipeval report RESULTS.json... --out DIR

re-render report.md, report.html and plots/ from saved results; several files make one merged report

Flags:
  --out DIR
      write the report to DIR (required)
`, out)
}

func TestCommandList(t *testing.T) {
	list := usage()
	for _, c := range commands() {
		assert.Contains(t, list, "\n  "+strings.TrimSpace("clipeval "+c.name+" "+c.synopsis)+"\n      "+strings.SplitN(c.desc, "\n", 2)[0]+"\n")
	}
	tests := []struct {
		name             string
		args             []string
		wantCode         int
		wantOut, wantErr string
	}{
		{"--help", []string{"--help"}, 0, list, ""},
		{"-h", []string{"-h"}, 0, list, ""},
		{"help", []string{"help"}, 0, list, ""},
		{"no command", nil, 2, "", list},
		{"unknown command", []string{"frobnicate"}, 2, "", "clipeval: unknown command \"frobnicate\"\n\n" + list},
		{"help of an unknown command", []string{"help", "frobnicate"}, 2, "", "clipeval: help: unknown command \"frobnicate\" (clipeval help lists them)\n"},
		{"help of two commands", []string{"help", "run", "report"}, 2, "", "clipeval: help takes at most one command, got [\"run\" \"report\"]\n"},
		{"--version", []string{"--version"}, 0, "clipeval " + version + "\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := invoke(tc.args...)
			assert.Equal(t, tc.wantCode, code)
			assert.Equal(t, tc.wantOut, out)
			assert.Equal(t, tc.wantErr, errOut)
		})
	}
}
