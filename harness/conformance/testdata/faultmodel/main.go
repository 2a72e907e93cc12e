// Command faultmodel is a model backend that misbehaves on request, for the tests of the harness's fault handling
// (harness/pluginhost, harness/run, the CLI's signals). A model is a folder holding fake-model.json
// {"embed_dim": D}, and an embedding is a hash of the input's bytes, as goodmodel's: an undisturbed run and one that
// survived a fault give the same numbers. The backend options choose the fault:
//
//	fault        crash (exit 3), hang (never answer, ignoring cancellation), stop (SIGSTOP itself, and never
//	             answer should it be continued), garbage (a
//	             matrix shorter than its shape), wrong_rows (one embedding too few), wrong_cols (one value too many a
//	             row), nan (a NaN in the first embedding), error (an error reply)
//	fault_call   the encode call of a process (EncodeImages and EncodeTexts counted together, from 1) at which the
//	             fault begins; every later call faults too (default 1)
//	fault_on     images, texts or any (default): which calls count
//	fault_input  only calls whose batch holds this text, or an image of this name, count
//	fault_times  how many faults in all, across restarts of the plugin, counted as files in fault_state (default:
//	             no bound)
//	fault_state  a folder the fault count is kept in
//	delay_ms     how long every encode call takes (default 0)
//
// It depends only on the SDK.
package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/clipeval/clipeval/harness/conformance/testdata/fakemodel"
	"github.com/clipeval/clipeval/plugins/sdk"
)

type model struct {
	// stderr is the process's own standard error: once a plugin serves, go-plugin sends what it writes to
	// os.Stderr over the connection, and a crash loses what is still on its way.
	stderr *os.File

	mu    sync.Mutex
	calls int // encode calls of this process that count for fault_on
}

// Describe declares the fault options.
func (*model) Describe(context.Context, sdk.DescribeRequest) (*sdk.PluginInfo, error) {
	return &sdk.PluginInfo{Name: "faultmodel", Version: "v0.0.1", Description: "a model backend that misbehaves on request",
		OptionFields: []sdk.Field{
			{Name: "fault", Type: sdk.FieldString, Choices: []string{"crash", "hang", "stop", "garbage", "wrong_rows", "wrong_cols", "nan", "error"},
				Help: "how to misbehave", KeepsEmbeddings: true},
			{Name: "fault_call", Type: sdk.FieldInt, Min: sdk.Bound(1), Help: "the encode call of a process the fault begins at", KeepsEmbeddings: true},
			{Name: "fault_on", Type: sdk.FieldString, Choices: []string{"images", "texts", "any"}, Help: "which calls count", KeepsEmbeddings: true},
			{Name: "fault_input", Type: sdk.FieldString, Help: "only calls whose batch holds this text or image name count", KeepsEmbeddings: true},
			{Name: "fault_times", Type: sdk.FieldInt, Min: sdk.Bound(1), Help: "how many faults in all (needs fault_state)", KeepsEmbeddings: true},
			{Name: "fault_state", Type: sdk.FieldPath, Help: "the folder the fault count is kept in", KeepsEmbeddings: true},
			{Name: "delay_ms", Type: sdk.FieldInt, Min: sdk.Bound(0), Help: "how long every encode call takes", KeepsEmbeddings: true},
		}}, nil
}

// CheckModel checks the model folder's fake-model.json.
func (*model) CheckModel(_ context.Context, req sdk.CheckModelRequest) (*sdk.CheckModelResponse, error) {
	if _, err := fakemodel.Load(req.Model); err != nil {
		return &sdk.CheckModelResponse{Problems: []sdk.Problem{{Key: "path", Message: err.Error()}}}, nil
	}
	return &sdk.CheckModelResponse{}, nil
}

// Info describes the fake model.
func (*model) Info(_ context.Context, req sdk.ModelInfoRequest) (*sdk.ModelInfo, error) {
	c, err := fakemodel.Load(req.Model)
	if err != nil {
		return nil, err
	}
	return &sdk.ModelInfo{Name: filepath.Base(req.Model.Dir), EmbedDim: c.EmbedDim, ImageSize: 32, ContextLength: 8, LogitScale: 100}, nil
}

// fault returns the fault this encode call of kind ("images", "texts") with inputs named names is to show, ""
// for none, counting it.
func (m *model) fault(ref sdk.ModelRef, kind string, names []string) (string, error) {
	o := ref.Options
	if on := o["fault_on"]; on != "" && on != "any" && on != kind {
		return "", nil
	}
	if in := o["fault_input"]; in != "" && !slices.Contains(names, in) {
		return "", nil
	}
	m.mu.Lock()
	m.calls++
	n := m.calls
	m.mu.Unlock()
	if o["fault"] == "" {
		return "", nil
	}
	from := 1
	if s := o["fault_call"]; s != "" {
		from, _ = strconv.Atoi(s)
	}
	if n < from {
		return "", nil
	}
	if s := o["fault_times"]; s != "" {
		times, _ := strconv.Atoi(s)
		dir := o["fault_state"]
		if dir == "" {
			return "", fmt.Errorf("options: fault_times needs fault_state")
		}
		done, err := os.ReadDir(dir)
		if err != nil {
			return "", err
		}
		if len(done) >= times {
			return "", nil
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("fault-%d", len(done)+1)), nil, 0o644); err != nil {
			return "", err
		}
	}
	return o["fault"], nil
}

// encode embeds inputs, misbehaving as the options say.
func (m *model) encode(ctx context.Context, ref sdk.ModelRef, kind string, names []string, inputs [][]byte) (*sdk.EncodeResponse, error) {
	c, err := fakemodel.Load(ref)
	if err != nil {
		return nil, err
	}
	if s := ref.Options["delay_ms"]; s != "" {
		ms, _ := strconv.Atoi(s)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f, err := m.fault(ref, kind, names)
	if err != nil {
		return nil, err
	}
	out := fakemodel.Embed(inputs, c.EmbedDim)
	switch f {
	case "crash":
		fmt.Fprintf(m.stderr, "faultmodel: crashing during a call of %d %s, as asked\n", len(inputs), kind)
		os.Exit(3)
	case "hang":
		fmt.Fprintf(m.stderr, "faultmodel: hanging, as asked\n")
		select {}
	case "stop":
		fmt.Fprintf(m.stderr, "faultmodel: stopping itself, as asked\n")
		if err := syscall.Kill(os.Getpid(), syscall.SIGSTOP); err != nil {
			return nil, err
		}
		select {} // the stop takes a moment to reach every thread; this call never answers
	case "garbage":
		out.Data = out.Data[:len(out.Data)-1]
	case "wrong_rows":
		out.Rows--
		out.Data = out.Data[:out.Rows*out.Cols]
	case "wrong_cols":
		wide := sdk.Matrix{Rows: out.Rows, Cols: out.Cols + 1, Data: make([]float32, out.Rows*(out.Cols+1))}
		for i := range out.Rows {
			copy(wide.Data[i*wide.Cols:], out.Data[i*out.Cols:(i+1)*out.Cols])
		}
		out = wide
	case "nan":
		out.Data[0] = float32(math.NaN())
	case "error":
		return nil, fmt.Errorf("faultmodel: failing the call, as asked")
	}
	return &sdk.EncodeResponse{Embeddings: out}, nil
}

// EncodeImages embeds images by a hash of their bytes, misbehaving as the options say.
func (m *model) EncodeImages(ctx context.Context, req sdk.EncodeImagesRequest) (*sdk.EncodeResponse, error) {
	var in [][]byte
	var names []string
	for _, im := range req.Images {
		b, err := im.Bytes()
		if err != nil {
			return nil, err
		}
		in, names = append(in, b), append(names, im.Label())
	}
	return m.encode(ctx, req.Model, "images", names, in)
}

// EncodeTexts embeds texts by a hash of their bytes, misbehaving as the options say.
func (m *model) EncodeTexts(ctx context.Context, req sdk.EncodeTextsRequest) (*sdk.EncodeResponse, error) {
	var in [][]byte
	for _, t := range req.Texts {
		in = append(in, []byte(t))
	}
	return m.encode(ctx, req.Model, "texts", req.Texts, in)
}

func main() { sdk.ServeModel("faultmodel", &model{stderr: os.NewFile(2, "stderr")}) }
