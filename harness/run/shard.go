package run

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clipeval/clipeval/harness/config"
	"github.com/clipeval/clipeval/harness/plan"
	"github.com/clipeval/clipeval/harness/results"
	"github.com/clipeval/clipeval/plugins/sdk"
	"github.com/clipeval/clipeval/plugins/sdk/npy"
)

// Shard is part Index (from 0) of a run split into Count parts: it encodes, of every model × task, the images and
// texts of its range (Range) and writes them as a shard folder that Merge assembles with the others.
type Shard struct {
	Index, Count int
}

// ShardsDir is the folder, inside a run's output folder, that sharded runs write their shards into.
const ShardsDir = "shards"

// shardFormat names the layout of a shard folder's shard.json.
const shardFormat = "clipeval-shard/1"

// shardManifest is the file in a shard folder that says what the shard holds.
const shardManifest = "shard.json"

// ParseShard reads a shard spec: "I/N" (part I of N, from 0); "auto/N", I from the environment (Slurm's
// SLURM_ARRAY_TASK_ID less SLURM_ARRAY_TASK_MIN, or Kubernetes' JOB_COMPLETION_INDEX); or "auto", which takes N
// too from a Slurm job array (SLURM_ARRAY_TASK_COUNT). getenv reads the environment.
func ParseShard(spec string, getenv func(string) string) (Shard, error) {
	index, count, ok := strings.Cut(spec, "/")
	if spec == "auto" {
		index, count, ok = "auto", getenv("SLURM_ARRAY_TASK_COUNT"), true
		if count == "" {
			return Shard{}, sdk.InvalidInput(fmt.Errorf("--shard auto: SLURM_ARRAY_TASK_COUNT is not set (not a Slurm job array); " +
				"give the number of shards as --shard auto/N, or the shard as --shard I/N"))
		}
	}
	if !ok {
		return Shard{}, sdk.InvalidInput(fmt.Errorf("--shard %q: want I/N (shard I of N, from 0), auto/N or auto", spec))
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return Shard{}, sdk.InvalidInput(fmt.Errorf("--shard %q: the number of shards %q is not a whole number of at least 1", spec, count))
	}
	if index == "auto" {
		return autoShard(spec, n, getenv)
	}
	i, err := strconv.Atoi(index)
	if err != nil || i < 0 || i >= n {
		return Shard{}, sdk.InvalidInput(fmt.Errorf("--shard %q: the shard %q must be a whole number from 0 to %d", spec, index, n-1))
	}
	return Shard{Index: i, Count: n}, nil
}

// autoShard finds this process's shard of n in the environment of a Slurm job array or a Kubernetes Indexed Job.
func autoShard(spec string, n int, getenv func(string) string) (Shard, error) {
	atoi := func(name string) (int, error) {
		v, err := strconv.Atoi(getenv(name))
		if err != nil {
			return 0, sdk.InvalidInput(fmt.Errorf("--shard %s: %s is %q, not a whole number", spec, name, getenv(name)))
		}
		return v, nil
	}
	var i int
	switch {
	case getenv("SLURM_ARRAY_TASK_ID") != "":
		id, err := atoi("SLURM_ARRAY_TASK_ID")
		if err != nil {
			return Shard{}, err
		}
		first := 0
		if getenv("SLURM_ARRAY_TASK_MIN") != "" {
			if first, err = atoi("SLURM_ARRAY_TASK_MIN"); err != nil {
				return Shard{}, err
			}
		}
		if c := getenv("SLURM_ARRAY_TASK_COUNT"); c != "" && c != strconv.Itoa(n) {
			return Shard{}, sdk.InvalidInput(fmt.Errorf("--shard %s: the job array has %s tasks (SLURM_ARRAY_TASK_COUNT), not %d; "+
				"submit it with --array=0-%d", spec, c, n, n-1))
		}
		i = id - first
	case getenv("JOB_COMPLETION_INDEX") != "":
		var err error
		if i, err = atoi("JOB_COMPLETION_INDEX"); err != nil {
			return Shard{}, err
		}
	default:
		return Shard{}, sdk.InvalidInput(fmt.Errorf("--shard %s: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX "+
			"(a Kubernetes Indexed Job) is set; give the shard as --shard I/N", spec))
	}
	if i < 0 || i >= n {
		return Shard{}, sdk.InvalidInput(fmt.Errorf("--shard %s: this task is shard %d, outside 0 to %d: the array's indices must run "+
			"from its first, one by one (e.g. --array=0-%d, completions: %d)", spec, i, n-1, n-1, n))
	}
	return Shard{Index: i, Count: n}, nil
}

// String is the shard as "I/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Folder is the shard's folder name inside ShardsDir.
func (s Shard) Folder() string { return fmt.Sprintf("shard-%d-of-%d", s.Index, s.Count) }

// Range returns the shard's part [lo, hi) of n inputs: the Count parts are consecutive, cover 0..n once and differ
// in size by at most one (a shard of more shards than inputs may be empty).
func (s Shard) Range(n int) (lo, hi int) {
	return int(int64(s.Index) * int64(n) / int64(s.Count)), int(int64(s.Index+1) * int64(n) / int64(s.Count))
}

// shardFile is shard.json: what a shard holds and what it was made from, so that Merge can check the shards
// against each other and against the config it merges for.
type shardFile struct {
	Format   string             `json:"format"`
	Index    int                `json:"index"`
	Count    int                `json:"count"`
	Config   results.ConfigInfo `json:"config"`
	Clipeval string             `json:"clipeval"`
	Created  time.Time          `json:"created"`
	Models   []shardModel       `json:"models"`
	Parts    []shardPart        `json:"parts"`
}

// shardModel is a model as the shard loaded it: what Merge records in results.json and keys runs with, without
// loading the model again (the merging machine may lack the shards' GPU).
type shardModel struct {
	Name          string        `json:"name"`
	Backend       string        `json:"backend"`
	PluginVersion string        `json:"plugin_version"`
	Fingerprint   string        `json:"fingerprint"`
	Info          sdk.ModelInfo `json:"info"`
}

// shardPart is a model × task's rows in the shard: images [ImageLo, ImageHi) of Images, texts [TextLo, TextHi) of
// Texts, in ImageFile and TextFile (no file for an empty range), and the bad images it left out (rows of all
// Images). Loaded is the digest of what the task's Load returned, which Merge's Load must reproduce.
type shardPart struct {
	Model     string        `json:"model"`
	Task      string        `json:"task"`
	Loaded    string        `json:"loaded"`
	Images    int           `json:"images"`
	Texts     int           `json:"texts"`
	ImageLo   int           `json:"image_lo"`
	ImageHi   int           `json:"image_hi"`
	TextLo    int           `json:"text_lo"`
	TextHi    int           `json:"text_hi"`
	Cols      int           `json:"cols"`
	ImageFile string        `json:"image_file,omitempty"`
	TextFile  string        `json:"text_file,omitempty"`
	Skipped   []shardSkip   `json:"skipped,omitempty"`
	dir       string        // the shard folder (set when read)
	shard     Shard         // set when read
	skipIndex map[int]error // Skipped by row (set when read)
}

// shardSkip is a bad image a shard left out: its row in the task's images, its name and why.
type shardSkip struct {
	Row   int    `json:"row"`
	Image string `json:"image"`
	Error string `json:"error"`
}

// loadedDigest is the digest of a loaded dataset as its task returned it (size, images by reference, texts, the
// images it skipped): equal digests mean the same inputs in the same order, so that a shard's rows belong where
// Merge puts them.
func loadedDigest(d *sdk.Dataset) string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s", len(s), s) }
	field(strconv.Itoa(d.Size))
	for _, im := range d.Images {
		field(im.Label())
		field(im.Path)
		field(fmt.Sprintf("%d,%d,%d", im.Offset, im.Size, len(im.Data)))
		if len(im.Data) > 0 {
			sum := sha256.Sum256(im.Data)
			field(hex.EncodeToString(sum[:]))
		}
	}
	field("texts")
	for _, t := range d.Texts {
		field(t)
	}
	field("skipped")
	for _, s := range d.Skipped {
		field(s.Image)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ShardReport says what RunShard did.
type ShardReport struct {
	// Dir is the shard's folder.
	Dir string
	// Existed is set when the shard was already complete there, and nothing was done.
	Existed bool
	// Images and Texts are how many inputs the shard holds, over every model × task.
	Images, Texts int
}

// RunShard encodes shard s of every model × task of p and writes it to p.OutDir/shards/<s.Folder()>: the rows of
// its range of each task's images and texts (.npy files), the bad images it skipped, and shard.json, which names
// the config (its digest), the shard, every model's fingerprint and Info and the digest of each task's loaded
// dataset. The folder is written under a temporary name and renamed into place when complete, so that it is
// either whole or absent; when it is already there and complete for the same config, nothing is done. A shard
// scores nothing: Merge does, once every shard is there.
func (r *Runner) RunShard(ctx context.Context, p *plan.Plan, s Shard) (*ShardReport, error) {
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return nil, fmt.Errorf("shard %s: want 0 <= I < N", s)
	}
	root := filepath.Join(p.OutDir, ShardsDir)
	final := filepath.Join(root, s.Folder())
	if done, err := readShard(final); err == nil {
		if done.Config.SHA256 != p.Config.SHA256 {
			return nil, sdk.InvalidInput(fmt.Errorf("%s holds shard %s of another config (sha256 %s; %s has %s): give another --out, "+
				"or remove the shards of the other run", final, s, done.Config.SHA256, p.Config.Path, p.Config.SHA256))
		}
		return &ShardReport{Dir: final, Existed: true}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, sdk.InvalidInput(fmt.Errorf("%s is there but is not a complete shard (%w): remove it and run the shard again", final, err))
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("creating the shards folder: %w", err)
	}
	c, err := r.check(ctx, p.Config, p.OutDir, true)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tmp, err := os.MkdirTemp(root, "."+s.Folder()+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("creating the shard folder: %w", err)
	}
	defer os.RemoveAll(tmp) // nothing left once renamed
	cfg := p.Config
	sf := shardFile{Format: shardFormat, Index: s.Index, Count: s.Count, Config: results.ConfigInfo{Path: cfg.Path, SHA256: cfg.SHA256},
		Clipeval: p.Clipeval, Created: time.Now().UTC()}
	rep := &ShardReport{Dir: final}
	encoders := make([]*encoder, len(cfg.Models))
	res := p.Results(time.Now()) // openModel records models here; a shard has no results.json
	for _, pair := range p.Pairs {
		m, t := cfg.Models[pair.Model], c.tasks[pair.Task]
		enc := encoders[pair.Model]
		if enc == nil {
			enc = r.openModel(ctx, cfg, m, c.models[pair.Model], c.backend[pair.Model], c.opened[pair.Model], res)
			if enc.err != nil {
				return nil, enc.err
			}
			encoders[pair.Model] = enc
			sf.Models = append(sf.Models, shardModel{Name: m.Name, Backend: m.Backend, PluginVersion: c.backend[pair.Model].Version,
				Fingerprint: enc.fingerprint, Info: *enc.info})
		}
		part, err := r.encodeShard(ctx, enc, t, s, tmp, len(sf.Parts))
		if err != nil {
			return nil, fmt.Errorf("shard %s, model %q, task %q: %w", s, m.Name, t.cfg.Name, err)
		}
		rep.Images += part.ImageHi - part.ImageLo
		rep.Texts += part.TextHi - part.TextLo
		sf.Parts = append(sf.Parts, part)
	}
	if err := writeSynced(filepath.Join(tmp, shardManifest), sf); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := readShard(final); statErr == nil { // another task of the same shard finished first
			return &ShardReport{Dir: final, Existed: true}, nil
		}
		return nil, fmt.Errorf("putting the shard in place: %w", err)
	}
	if err := syncDir(root); err != nil {
		return nil, err
	}
	return rep, nil
}

// encodeShard encodes shard s's range of task t's images and texts with enc into files in dir (named after the
// part's number k) and returns the part.
func (r *Runner) encodeShard(ctx context.Context, enc *encoder, t *loadedTask, s Shard, dir string, k int) (shardPart, error) {
	part := shardPart{Model: enc.name, Task: t.cfg.Name, Loaded: loadedDigest(t.data), Images: len(t.data.Images), Texts: len(t.data.Texts),
		Cols: enc.info.EmbedDim}
	part.ImageLo, part.ImageHi = s.Range(part.Images)
	part.TextLo, part.TextHi = s.Range(part.Texts)
	if part.ImageHi > part.ImageLo {
		part.ImageFile = fmt.Sprintf("part-%d-images.npy", k)
		f, bad, err := enc.images(ctx, t.cfg.Name, filepath.Join(dir, part.ImageFile), t.data.Images[part.ImageLo:part.ImageHi],
			t.cfg.BadImages == config.BadImagesSkip)
		if err != nil {
			return part, err
		}
		part.Cols = f.Cols
		for _, b := range bad {
			row := part.ImageLo + b.index
			part.Skipped = append(part.Skipped, shardSkip{Row: row, Image: t.data.Images[row].Label(), Error: b.err.Error()})
		}
		if err := syncFile(f.Path); err != nil {
			return part, err
		}
	}
	if part.TextHi > part.TextLo {
		part.TextFile = fmt.Sprintf("part-%d-texts.npy", k)
		f, err := enc.texts(ctx, t.cfg.Name, filepath.Join(dir, part.TextFile), t.data.Texts[part.TextLo:part.TextHi])
		if err != nil {
			return part, err
		}
		if part.ImageFile != "" && f.Cols != part.Cols {
			return part, fmt.Errorf("the model's image embeddings have %d values and its text embeddings %d", part.Cols, f.Cols)
		}
		part.Cols = f.Cols
		if err := syncFile(f.Path); err != nil {
			return part, err
		}
	}
	return part, nil
}

// writeSynced writes v as indented JSON to path and syncs it.
func writeSynced(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return syncFile(path)
}

// syncFile flushes the file at path to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}

// syncDir flushes the folder dir's entries (a rename into it) to disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// readShard reads and checks the shard.json of the shard folder dir; fs.ErrNotExist when there is none.
func readShard(dir string) (*shardFile, error) {
	b, err := sdk.ReadFileAtMost(filepath.Join(dir, shardManifest), 64<<20)
	if err != nil {
		return nil, err
	}
	var sf shardFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("%s: not a shard manifest: %w", filepath.Join(dir, shardManifest), err)
	}
	if sf.Format != shardFormat {
		return nil, fmt.Errorf("%s: format %q, want %q (written by another clipeval version?)", filepath.Join(dir, shardManifest), sf.Format, shardFormat)
	}
	s := Shard{Index: sf.Index, Count: sf.Count}
	if sf.Count < 1 || sf.Index < 0 || sf.Index >= sf.Count || filepath.Base(dir) != s.Folder() {
		return nil, fmt.Errorf("%s: it says shard %s, its folder is %s", filepath.Join(dir, shardManifest), s, filepath.Base(dir))
	}
	for i := range sf.Parts {
		p := &sf.Parts[i]
		p.dir, p.shard, p.skipIndex = dir, s, map[int]error{}
		for _, sk := range p.Skipped {
			p.skipIndex[sk.Row] = sdk.InvalidInput(errors.New(sk.Error))
		}
		for _, f := range []string{p.ImageFile, p.TextFile} {
			if f != "" && (filepath.Base(f) != f || !strings.HasSuffix(f, ".npy")) {
				return nil, fmt.Errorf("%s: part file %q is not a .npy file of the shard's folder", filepath.Join(dir, shardManifest), f)
			}
		}
	}
	return &sf, nil
}

// shardSet is every shard of a sharded run, read and checked by Merge: for each model (by name) its record, and
// for each model × task its parts in shard order.
type shardSet struct {
	dir    string
	count  int
	config results.ConfigInfo
	models map[string]shardModel
	parts  map[[2]string][]*shardPart
}

// readShards reads every shard folder in dir/shards and checks that they are the Count shards of one run of the
// config with digest sha (each once, none missing, all with the same models and tasks).
func readShards(dir, sha string) (*shardSet, error) {
	root := filepath.Join(dir, ShardsDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, sdk.InvalidInput(fmt.Errorf("reading the shards: %w (run `clipeval run CONFIG --shard I/N --out %s` for every shard first)", err, dir))
	}
	var shards []*shardFile
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sf, err := readShard(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, sdk.InvalidInput(fmt.Errorf("shard %s: %w", e.Name(), err))
		}
		shards = append(shards, sf)
	}
	if len(shards) == 0 {
		return nil, sdk.InvalidInput(fmt.Errorf("%s holds no shards (run `clipeval run CONFIG --shard I/N --out %s` for every shard first)", root, dir))
	}
	slices.SortFunc(shards, func(a, b *shardFile) int { return cmp.Or(cmp.Compare(a.Count, b.Count), cmp.Compare(a.Index, b.Index)) })
	first := shards[0]
	set := &shardSet{dir: root, count: first.Count, config: first.Config, models: map[string]shardModel{}, parts: map[[2]string][]*shardPart{}}
	var missing []string
	have := map[int]bool{}
	for _, sf := range shards {
		if sf.Count != first.Count {
			return nil, sdk.InvalidInput(fmt.Errorf("%s holds shards of %d and of %d: the shards of two splittings are mixed; keep one",
				root, first.Count, sf.Count))
		}
		if sf.Config.SHA256 != first.Config.SHA256 {
			return nil, sdk.InvalidInput(fmt.Errorf("shards %s and %s were made from different configs (sha256 %s and %s)",
				Shard{first.Index, first.Count}, Shard{sf.Index, sf.Count}, first.Config.SHA256, sf.Config.SHA256))
		}
		have[sf.Index] = true
	}
	if lacking := first.Count - len(have); lacking > 0 {
		for i := 0; i < first.Count && len(missing) < 10; i++ { // the first ten named
			if !have[i] {
				missing = append(missing, Shard{i, first.Count}.String())
			}
		}
		if lacking > len(missing) {
			missing = append(missing, fmt.Sprintf("and %d more", lacking-len(missing)))
		}
		return nil, sdk.InvalidInput(fmt.Errorf("%s lacks %d of the %d shards: %s (run them, e.g. resubmit the job array: complete shards are skipped)",
			root, lacking, first.Count, strings.Join(missing, ", ")))
	}
	if sha != "" && first.Config.SHA256 != sha {
		return nil, sdk.InvalidInput(fmt.Errorf("the shards were made from config %s with sha256 %s, but the config merged has %s: "+
			"merge with the config the shards ran", first.Config.Path, first.Config.SHA256, sha))
	}
	for _, sf := range shards {
		for _, m := range sf.Models {
			if prev, ok := set.models[m.Name]; ok && prev.Fingerprint != m.Fingerprint {
				return nil, sdk.InvalidInput(fmt.Errorf("model %q has fingerprint %s in shard %s but %s in another: the shards did not run the same model "+
					"(files, options or backend version differ)", m.Name, m.Fingerprint, Shard{sf.Index, sf.Count}, prev.Fingerprint))
			}
			set.models[m.Name] = m
		}
		for i := range sf.Parts {
			p := &sf.Parts[i]
			key := [2]string{p.Model, p.Task}
			set.parts[key] = append(set.parts[key], p)
		}
	}
	for key, parts := range set.parts {
		if len(parts) != first.Count {
			return nil, sdk.InvalidInput(fmt.Errorf("model %q × task %q is in %d of the %d shards", key[0], key[1], len(parts), first.Count))
		}
		for _, p := range parts[1:] {
			if p.Loaded != parts[0].Loaded || p.Images != parts[0].Images || p.Texts != parts[0].Texts {
				return nil, sdk.InvalidInput(fmt.Errorf("model %q × task %q: shards %s and %s loaded different data sets (%d and %d images, %d and %d texts)",
					key[0], key[1], parts[0].shard, p.shard, parts[0].Images, p.Images, parts[0].Texts, p.Texts))
			}
		}
		for k, p := range parts { // sorted by shard: each must hold exactly its range, so that every row is there once
			s := Shard{k, first.Count}
			ilo, ihi := s.Range(p.Images)
			tlo, thi := s.Range(p.Texts)
			if p.ImageLo != ilo || p.ImageHi != ihi || p.TextLo != tlo || p.TextHi != thi {
				return nil, sdk.InvalidInput(fmt.Errorf("model %q × task %q: shard %s holds images [%d, %d) and texts [%d, %d), its part is [%d, %d) and [%d, %d)",
					key[0], key[1], s, p.ImageLo, p.ImageHi, p.TextLo, p.TextHi, ilo, ihi, tlo, thi))
			}
		}
	}
	return set, nil
}

// assemble writes model × task's embeddings from the shards into the .npy files the task maps: images to
// imagesPath, texts to textsPath, every row from the shard that holds it. It checks the task's dataset is the one
// the shards loaded, and returns the bad images the shards skipped.
func (set *shardSet) assemble(model string, t *loadedTask, imagesPath, textsPath string) (sdk.EmbeddingFile, sdk.EmbeddingFile, []badImage, error) {
	parts := set.parts[[2]string{model, t.cfg.Name}]
	if parts == nil {
		return sdk.EmbeddingFile{}, sdk.EmbeddingFile{}, nil, sdk.InvalidInput(fmt.Errorf("the shards in %s hold no embeddings of model %q on task %q: "+
			"they ran another config", set.dir, model, t.cfg.Name))
	}
	if got := loadedDigest(t.data); got != parts[0].Loaded {
		return sdk.EmbeddingFile{}, sdk.EmbeddingFile{}, nil, sdk.InvalidInput(fmt.Errorf("task %q loads another data set now than when the shards ran "+
			"(%d images and %d texts now, %d and %d then): the data set or its manifest changed; run the shards again",
			t.cfg.Name, len(t.data.Images), len(t.data.Texts), parts[0].Images, parts[0].Texts))
	}
	cols := 0
	for _, p := range parts {
		if p.ImageFile != "" || p.TextFile != "" {
			if cols != 0 && p.Cols != cols {
				return sdk.EmbeddingFile{}, sdk.EmbeddingFile{}, nil, sdk.InvalidInput(fmt.Errorf("model %q: shards hold embeddings of %d and of %d values", model, cols, p.Cols))
			}
			cols = p.Cols
		}
	}
	var bad []badImage
	for _, p := range parts {
		for _, sk := range p.Skipped {
			bad = append(bad, badImage{index: sk.Row, err: p.skipIndex[sk.Row]})
		}
	}
	write := func(path string, n int, file func(*shardPart) string, lo func(*shardPart) int, rows func(*shardPart) int) (sdk.EmbeddingFile, error) {
		w, err := npy.CreateFloat32(path, n, cols)
		if err != nil {
			return sdk.EmbeddingFile{}, err
		}
		w.Scratch = true
		for _, p := range parts {
			if file(p) == "" {
				continue
			}
			src := filepath.Join(p.dir, file(p))
			m, err := npy.MapFloat32(src)
			if err != nil {
				w.Abort()
				return sdk.EmbeddingFile{}, sdk.InvalidInput(fmt.Errorf("shard %s: %w", p.shard, err))
			}
			if m.Rows != rows(p) || m.Cols != cols {
				m.Close()
				w.Abort()
				return sdk.EmbeddingFile{}, sdk.InvalidInput(fmt.Errorf("shard %s: %s holds [%d, %d], its manifest says [%d, %d]", p.shard, src, m.Rows, m.Cols, rows(p), cols))
			}
			err = w.WriteRows(lo(p), m.Float32)
			m.Close()
			if err != nil {
				w.Abort()
				return sdk.EmbeddingFile{}, err
			}
		}
		if err := w.Close(); err != nil {
			return sdk.EmbeddingFile{}, err
		}
		return sdk.EmbeddingFile{Path: path, Rows: n, Cols: cols}, nil
	}
	img, err := write(imagesPath, parts[0].Images, func(p *shardPart) string { return p.ImageFile },
		func(p *shardPart) int { return p.ImageLo }, func(p *shardPart) int { return p.ImageHi - p.ImageLo })
	if err != nil {
		return sdk.EmbeddingFile{}, sdk.EmbeddingFile{}, nil, err
	}
	txt, err := write(textsPath, parts[0].Texts, func(p *shardPart) string { return p.TextFile },
		func(p *shardPart) int { return p.TextLo }, func(p *shardPart) int { return p.TextHi - p.TextLo })
	if err != nil {
		os.Remove(img.Path)
		return sdk.EmbeddingFile{}, sdk.EmbeddingFile{}, nil, err
	}
	slices.SortFunc(bad, func(a, b badImage) int { return cmp.Compare(a.index, b.index) })
	return img, txt, bad, nil
}

// Merge scores and reports the sharded run of p from the shards RunShard wrote into dir/shards, as Run would have
// without shards: it checks that every shard of the run is there once and that they agree (the config's digest,
// each model's fingerprint, each task's loaded data set, each shard's range), loads every task's dataset again (it
// must load what the shards loaded), and scores every model × task from the shards' embeddings. No model is
// loaded or run; what results.json records of each model is what the shards recorded.
func (r *Runner) Merge(ctx context.Context, p *plan.Plan, dir string) (*results.Results, error) {
	set, err := readShards(dir, p.Config.SHA256)
	if err != nil {
		return nil, err
	}
	for _, m := range p.Config.Models {
		if _, ok := set.models[m.Name]; !ok {
			return nil, sdk.InvalidInput(fmt.Errorf("model %q of %s is in none of the shards in %s: they ran another config", m.Name, p.Config.Path, set.dir))
		}
	}
	merging := *r
	merging.shards = set
	return merging.Run(ctx, p)
}

// ShardConfig returns the config file and its digest that the shards in dir/shards were made from (as the first
// shard recorded them), for `clipeval merge` to load.
func ShardConfig(dir string) (results.ConfigInfo, error) {
	root := filepath.Join(dir, ShardsDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return results.ConfigInfo{}, sdk.InvalidInput(fmt.Errorf("reading the shards: %w (run `clipeval run CONFIG --shard I/N --out %s` for every shard first)", err, dir))
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			sf, err := readShard(filepath.Join(root, e.Name()))
			if err != nil {
				return results.ConfigInfo{}, sdk.InvalidInput(fmt.Errorf("shard %s: %w", e.Name(), err))
			}
			return sf.Config, nil
		}
	}
	return results.ConfigInfo{}, sdk.InvalidInput(fmt.Errorf("%s holds no shards (run `clipeval run CONFIG --shard I/N --out %s` for every shard first)", root, dir))
}
