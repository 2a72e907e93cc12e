package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/junit"
	"github.com/clipeval/clipeval/harness/pluginhost"
	"github.com/clipeval/clipeval/harness/run"
	"github.com/clipeval/clipeval/harness/verify"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// optionFlags collects repeated --option K=V flags.
type optionFlags map[string]string

func (o optionFlags) String() string { return fmt.Sprint(map[string]string(o)) }

func (o optionFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, have %q", s)
	}
	o[k] = v
	return nil
}

// modelFlags are the flags of every command that works on one model folder.
type modelFlags struct {
	dir, backend, pluginDir string
	batch                   int
	options                 optionFlags
}

func addModelFlags(fs *flag.FlagSet) *modelFlags {
	m := &modelFlags{options: optionFlags{}}
	fs.StringVar(&m.dir, "model", "", "the model folder `DIR` (required)")
	fs.StringVar(&m.backend, "backend", "onnx", "the model backend plugin `NAME`")
	fs.StringVar(&m.pluginDir, "plugin-dir", pluginhost.DefaultDir(), "start the plugins found in `DIR`")
	fs.IntVar(&m.batch, "batch-size", config.DefaultBatchSize, "send `N` inputs per backend call")
	fs.Var(m.options, "option", "backend option `KEY=VALUE` (repeatable), e.g. logit_scale=100, bpe=FILE")
	return m
}

// open checks the flags, starts the backend and loads the model. Close the host when done.
func (m *modelFlags) open(ctx context.Context, cmd string, stderr io.Writer) (*pluginhost.Host, *pluginhost.Model, sdk.ModelRef, error) {
	if m.dir == "" {
		return nil, nil, sdk.ModelRef{}, badInput("%s: --model DIR is required", cmd)
	}
	if m.batch <= 0 {
		return nil, nil, sdk.ModelRef{}, badInput("%s: --batch-size must be positive", cmd)
	}
	dir, err := filepath.Abs(m.dir)
	if err != nil {
		return nil, nil, sdk.ModelRef{}, usageError{err}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, sdk.ModelRef{}, badInput("%s: model folder %s does not exist", cmd, dir)
	}
	cwd, _ := os.Getwd()
	ref := sdk.ModelRef{Dir: dir, Options: m.options, BaseDir: cwd}
	host, err := newHost(m.pluginDir, stderr)
	if err != nil {
		return nil, nil, ref, err
	}
	model, err := host.Model(m.backend)
	if err == nil {
		_, err = model.Info(ctx, sdk.ModelInfoRequest{Model: ref})
	}
	if err != nil {
		host.Close()
		return nil, nil, ref, err
	}
	return host, model, ref, nil
}

// appendRows concatenates a onto acc along the first axis (acc nil: a copy of a's header).
func appendRows(acc, a *npy.Array) *npy.Array {
	if acc == nil {
		return &npy.Array{Shape: append([]int(nil), a.Shape...), DType: a.DType, Float32: a.Float32, Int64: a.Int64}
	}
	acc.Shape[0] += a.Shape[0]
	acc.Float32 = append(acc.Float32, a.Float32...)
	acc.Int64 = append(acc.Int64, a.Int64...)
	return acc
}

// preprocessAll returns the pixels the model's image tower is fed for inputs, asked for in batches.
func preprocessAll(ctx context.Context, m *pluginhost.Model, ref sdk.ModelRef, inputs []sdk.ImageInput, batch int) (*npy.Array, error) {
	var acc *npy.Array
	err := run.Batches(len(inputs), batch, func(lo, hi int) error {
		r, err := m.Preprocess(ctx, sdk.PreprocessRequest{Model: ref, Images: inputs[lo:hi]})
		if err != nil {
			return err
		}
		acc = appendRows(acc, r.Tensor)
		return nil
	})
	return acc, err
}

// rows returns rows [lo, hi) of an array.
func rows(a *npy.Array, lo, hi int) *npy.Array {
	per := a.Len() / max(a.Shape[0], 1)
	out := &npy.Array{Shape: append([]int{hi - lo}, a.Shape[1:]...), DType: a.DType}
	if a.Float32 != nil {
		out.Float32 = a.Float32[lo*per : hi*per]
	} else {
		out.Int64 = a.Int64[lo*per : hi*per]
	}
	return out
}

// imageInputs resolves image paths, checking they exist.
func imageInputs(cmd string, paths []string) ([]sdk.ImageInput, error) {
	out := make([]sdk.ImageInput, len(paths))
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, usageError{err}
		}
		if st, err := os.Stat(abs); err != nil || st.IsDir() {
			return nil, badInput("%s: image %s does not exist", cmd, p)
		}
		out[i] = sdk.ImageInput{Path: abs}
	}
	return out, nil
}

// maxTextsBytes is the largest --texts file read (1 GiB).
const maxTextsBytes = 1 << 30

// readTexts reads a JSON array of strings; null is refused (JSON would read it as "").
func readTexts(cmd, path string) ([]string, error) {
	raw, err := sdk.ReadFileAtMost(path, maxTextsBytes)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	var texts []*string
	if err := json.Unmarshal(raw, &texts); err != nil {
		return nil, badInput("%s: %s must be a JSON array of strings: %v", cmd, path, err)
	}
	if texts == nil {
		return nil, badInput("%s: %s must be a JSON array of strings, is null", cmd, path)
	}
	out := make([]string, len(texts))
	for i, t := range texts {
		if t == nil {
			return nil, badInput("%s: %s: text %d is null; every entry must be a string (write \"\" for an empty text)", cmd, path, i)
		}
		out[i] = *t
	}
	return out, nil
}

// outputFile checks, before any work, that cmd can create the file path: its folder exists and path is not a
// folder.
func outputFile(cmd, flagName, path string) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return badInput("%s: %s %s: the folder %s does not exist (create it first)", cmd, flagName, path, dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return badInput("%s: %s %s is a folder; give a file name", cmd, flagName, path)
	}
	return nil
}

// tokenize returns the token ids the model's text tower is fed for texts.
func tokenize(ctx context.Context, m *pluginhost.Model, ref sdk.ModelRef, texts []string) (*npy.Array, error) {
	r, err := m.Tokenize(ctx, sdk.TokenizeRequest{Model: ref, Texts: texts})
	if err != nil {
		return nil, err
	}
	return r.Tensor, nil
}

// embeddings runs f over batches and stacks the resulting matrices into a float32 [N, d] array.
func embeddings(n, batch int, f func(lo, hi int) (*sdk.EncodeResponse, error)) (*npy.Array, error) {
	var data []float32
	cols := 0
	err := run.Batches(n, batch, func(lo, hi int) error {
		r, err := f(lo, hi)
		if err != nil {
			return err
		}
		m := r.Embeddings
		cols, data = m.Cols, append(data, m.Data...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return npy.Float32Array([]int{n, cols}, data), nil
}

func cmdEmbed(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	mf := addModelFlags(fs)
	textsFile := fs.String("texts", "", "encode the texts of `FILE.json`, a JSON array of strings")
	out := fs.String("out", "", "write the .npy to `FILE` (required)")
	var images listFlag
	fs.Var(&images, "images", "encode the image files `FILE...` (every argument up to the next flag)")
	quiet := fs.Bool("quiet", false, "print nothing but errors and the file written: no progress")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return badInput("embed: unexpected arguments %q", pos)
	case mf.dir == "":
		return badInput("embed: --model DIR is required")
	case *out == "":
		return badInput("embed: --out OUT.npy is required")
	case (len(images) == 0) == (*textsFile == ""):
		return badInput("embed: give either --images FILE... or --texts FILE.json")
	}
	if err := outputFile("embed", "--out", *out); err != nil {
		return err
	}
	var texts []string
	if *textsFile != "" {
		if texts, err = readTexts("embed", *textsFile); err != nil {
			return err
		}
	}
	inputs, err := imageInputs("embed", images)
	if err != nil {
		return err
	}
	progress := newProgress(stderr, progressModeFor(stderr, *quiet), time.Now)
	defer progress.close()
	host, m, ref, err := mf.open(ctx, "embed", progress)
	if err != nil {
		return err
	}
	defer host.Close()
	n := max(len(inputs), len(texts))
	ev := run.Event{Model: filepath.Base(ref.Dir), Stage: "images", Total: n}
	if texts != nil {
		ev.Stage = "texts"
	}
	progress.event(ev)
	emb, err := embeddings(n, mf.batch, func(lo, hi int) (*sdk.EncodeResponse, error) {
		var r *sdk.EncodeResponse
		var err error
		if texts != nil {
			r, err = m.EncodeTexts(ctx, sdk.EncodeTextsRequest{Model: ref, Texts: texts[lo:hi]})
		} else {
			r, err = m.EncodeImages(ctx, sdk.EncodeImagesRequest{Model: ref, Images: inputs[lo:hi]})
		}
		if err == nil {
			ev.Done = hi
			progress.event(ev)
		}
		return r, err
	})
	progress.close()
	if err != nil {
		return err
	}
	if err := npy.WriteFile(*out, emb); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: float32 %v\n", *out, emb.Shape)
	return nil
}

func cmdPreprocess(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	mf := addModelFlags(fs)
	out := fs.String("out", "", "write the .npy to `FILE` (required)")
	images, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(images) == 0 {
		return badInput("preprocess: usage: clipeval preprocess --model DIR --out OUT.npy IMAGE...")
	}
	if err := outputFile("preprocess", "--out", *out); err != nil {
		return err
	}
	inputs, err := imageInputs("preprocess", images)
	if err != nil {
		return err
	}
	host, m, ref, err := mf.open(ctx, "preprocess", stderr)
	if err != nil {
		return err
	}
	defer host.Close()
	shape, err := preprocessTo(ctx, m, ref, inputs, mf.batch, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: float32 %v\n", *out, shape)
	return nil
}

// preprocessTo writes the pixels the model's image tower is fed for inputs to the .npy file path, asked for and
// written batch by batch (the file is laid out at its full size under a temporary name and renamed into place when
// complete, see npy.Float32Writer), so that memory holds one batch however many images there are. It returns the
// array's shape.
func preprocessTo(ctx context.Context, m *pluginhost.Model, ref sdk.ModelRef, inputs []sdk.ImageInput, batch int, path string) ([]int, error) {
	var w *npy.Float32Writer
	var shape []int
	err := run.Batches(len(inputs), batch, func(lo, hi int) error {
		r, err := m.Preprocess(ctx, sdk.PreprocessRequest{Model: ref, Images: inputs[lo:hi]})
		if err != nil {
			return err
		}
		t := r.Tensor
		if t == nil || len(t.Shape) == 0 || t.Shape[0] != hi-lo || t.Float32 == nil {
			return fmt.Errorf("preprocess: the backend answered %d images with no float32 [N, ...] tensor of %d rows", hi-lo, hi-lo)
		}
		if w == nil {
			shape = append([]int{len(inputs)}, t.Shape[1:]...)
			if w, err = npy.CreateFloat32Shape(path, shape); err != nil {
				return err
			}
		} else if !slices.Equal(shape[1:], t.Shape[1:]) {
			return fmt.Errorf("preprocess: the backend answered images %d–%d with shape %v, earlier ones with %v", lo, hi-1, t.Shape, shape)
		}
		return w.WriteRows(lo, t.Float32)
	})
	if err != nil {
		if w != nil {
			w.Abort()
		}
		return nil, err
	}
	if w == nil { // no images: nothing was asked
		return nil, fmt.Errorf("preprocess: no images")
	}
	return shape, w.Close()
}

func cmdTokenize(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	mf := addModelFlags(fs)
	out := fs.String("out", "", "write the .npy to `FILE` (required)")
	textsFile := fs.String("texts", "", "the texts of `FILE.json`, a JSON array of strings")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || *textsFile == "" || len(pos) > 0 {
		return badInput("tokenize: usage: clipeval tokenize --model DIR --texts FILE.json --out OUT.npy")
	}
	if err := outputFile("tokenize", "--out", *out); err != nil {
		return err
	}
	texts, err := readTexts("tokenize", *textsFile)
	if err != nil {
		return err
	}
	host, m, ref, err := mf.open(ctx, "tokenize", stderr)
	if err != nil {
		return err
	}
	defer host.Close()
	ids, err := tokenize(ctx, m, ref, texts)
	if err != nil {
		return err
	}
	if err := npy.WriteFile(*out, ids); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: int64 %v\n", *out, ids.Shape)
	return nil
}

// Golden file members (npz), as verify-export reads them.
const (
	goldenPixels      = "pixels"
	goldenTokenIDs    = "token_ids"
	goldenImageEmbeds = "image_embeds"
	goldenTextEmbeds  = "text_embeds"
)

func cmdGolden(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	mf := addModelFlags(fs)
	out := fs.String("out", "", "write the .npz to `FILE` (required)")
	textsFile := fs.String("texts", "", "the texts of `FILE.json`, a JSON array of strings")
	var images listFlag
	fs.Var(&images, "images", "the image files `FILE...` (every argument up to the next flag)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) > 0 || (len(images) == 0 && *textsFile == "") {
		return badInput("golden: usage: clipeval golden --model DIR [--images FILE...] [--texts FILE.json] --out GOLDEN.npz")
	}
	if err := outputFile("golden", "--out", *out); err != nil {
		return err
	}
	inputs, err := imageInputs("golden", images)
	if err != nil {
		return err
	}
	var texts []string
	if *textsFile != "" {
		if texts, err = readTexts("golden", *textsFile); err != nil {
			return err
		}
	}
	host, m, ref, err := mf.open(ctx, "golden", stderr)
	if err != nil {
		return err
	}
	defer host.Close()
	golden := map[string]*npy.Array{}
	if len(inputs) > 0 {
		pixels, err := preprocessAll(ctx, m, ref, inputs, mf.batch)
		if err != nil {
			return err
		}
		golden[goldenPixels] = pixels
		if golden[goldenImageEmbeds], err = embeddings(len(inputs), mf.batch, func(lo, hi int) (*sdk.EncodeResponse, error) {
			return m.EncodePixels(ctx, sdk.EncodePixelsRequest{Model: ref, Pixels: rows(pixels, lo, hi)})
		}); err != nil {
			return err
		}
	}
	if len(texts) > 0 {
		ids, err := tokenize(ctx, m, ref, texts)
		if err != nil {
			return err
		}
		golden[goldenTokenIDs] = ids
		if golden[goldenTextEmbeds], err = embeddings(len(texts), mf.batch, func(lo, hi int) (*sdk.EncodeResponse, error) {
			return m.EncodeTokens(ctx, sdk.EncodeTokensRequest{Model: ref, IDs: rows(ids, lo, hi)})
		}); err != nil {
			return err
		}
	}
	if err := npy.WriteNPZ(*out, golden); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d images, %d texts\n", *out, len(inputs), len(texts))
	return nil
}

// errVerifyFailed marks a verify-export whose outputs did not all pass (exit 1).
var errVerifyFailed = fmt.Errorf("export does not match the golden outputs")

func cmdVerifyExport(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	mf := addModelFlags(fs)
	goldenPath := fs.String("golden", "", "the golden .npz `FILE` written by clipeval golden (required)")
	tol := verify.FP32
	fs.Float64Var(&tol.ATol, "atol", tol.ATol, "absolute tolerance `A` per element")
	fs.Float64Var(&tol.RTol, "rtol", tol.RTol, "relative tolerance `R` per element")
	fs.Float64Var(&tol.MinCosine, "min-cosine", tol.MinCosine, "smallest cosine similarity `C` per row")
	junitPath := fs.String("junit", "", "also write JUnit XML to `FILE`, one test case per output")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *goldenPath == "" || len(pos) > 0 {
		return badInput("verify-export: usage: clipeval verify-export --model DIR --golden GOLDEN.npz [--atol A --rtol R --min-cosine C]")
	}
	if tol.ATol < 0 || tol.RTol < 0 || tol.MinCosine > 1 {
		return badInput("verify-export: tolerances must be non-negative and --min-cosine at most 1")
	}
	if *junitPath != "" {
		if err := outputFile("verify-export", "--junit", *junitPath); err != nil {
			return err
		}
	}
	golden, err := npy.ReadNPZ(*goldenPath)
	if err != nil {
		return usageError{err}
	}
	type check struct{ input, output string }
	var checks []check
	for _, c := range []check{{goldenPixels, goldenImageEmbeds}, {goldenTokenIDs, goldenTextEmbeds}} {
		in, out := golden[c.input], golden[c.output]
		switch {
		case in == nil && out == nil:
			continue
		case in == nil:
			return badInput("verify-export: %s has %s but no %s", *goldenPath, c.output, c.input)
		case out == nil:
			return badInput("verify-export: %s has %s but no %s", *goldenPath, c.input, c.output)
		case in.DType != map[string]string{goldenPixels: "<f4", goldenTokenIDs: "<i8"}[c.input]:
			return badInput("verify-export: %s: %s is %s; want float32 pixels and int64 token_ids", *goldenPath, c.input, in.DType)
		case len(in.Shape) == 0 || len(out.Shape) != 2 || in.Shape[0] != out.Shape[0] || out.DType != "<f4":
			return badInput("verify-export: %s: %s %v and %s %s %v do not pair up (want N inputs and float32 [N, d])", *goldenPath, c.input, in.Shape, c.output, out.DType, out.Shape)
		}
		checks = append(checks, c)
	}
	if len(checks) == 0 {
		return badInput("verify-export: %s holds neither pixels + image_embeds nor token_ids + text_embeds", *goldenPath)
	}
	host, m, ref, err := mf.open(ctx, "verify-export", stderr)
	if err != nil {
		return err
	}
	defer host.Close()
	failed := 0
	class := "verify-export." + filepath.Base(mf.dir)
	cases := junit.New("clipeval verify-export")
	fmt.Fprintf(stdout, "verify-export %s against %s (atol %g, rtol %g, min-cosine %g)\n", mf.dir, *goldenPath, tol.ATol, tol.RTol, tol.MinCosine)
	for _, c := range checks {
		in, want := golden[c.input], golden[c.output]
		got, err := embeddings(in.Shape[0], mf.batch, func(lo, hi int) (*sdk.EncodeResponse, error) {
			if c.input == goldenPixels {
				return m.EncodePixels(ctx, sdk.EncodePixelsRequest{Model: ref, Pixels: rows(in, lo, hi)})
			}
			return m.EncodeTokens(ctx, sdk.EncodeTokensRequest{Model: ref, IDs: rows(in, lo, hi)})
		})
		if err != nil {
			return err
		}
		if got.Shape[1] != want.Shape[1] {
			return fmt.Errorf("verify-export: the export's %s are %v, the golden's %v", c.output, got.Shape, want.Shape)
		}
		s, err := verify.Compare(c.output, want.Float32, got.Float32, want.Shape[0], want.Shape[1], tol)
		if err != nil {
			return err
		}
		tc := junit.Case{Name: c.output, Classname: class, SystemOut: s.String()}
		if !s.Pass {
			failed++
			tc.SystemOut, tc.Failure = "", &junit.Failure{Message: c.output + " differs from the golden beyond the tolerances", Text: s.String()}
		}
		cases.Add(class, tc)
		fmt.Fprintln(stdout, s)
	}
	if *junitPath != "" {
		if err := cases.WriteFile(*junitPath); err != nil {
			return fmt.Errorf("verify-export: %w", err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d outputs failed: %w", failed, len(checks), errVerifyFailed)
	}
	fmt.Fprintln(stdout, "PASS")
	return nil
}
