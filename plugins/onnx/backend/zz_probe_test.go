package backend

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

func TestZZProbeOpen(t *testing.T) {
	dir := os.Getenv("PROBE_MODEL")
	if dir == "" {
		t.Skip()
	}
	b := NewFromEnv()
	st := time.Now()
	if err := b.init(); err != nil {
		t.Fatal(err)
	}
	t.Logf("init %v", time.Since(st))
	for round := 0; round < 2; round++ {
		st = time.Now()
		f, err := ReadFolder(dir, map[string]string{"threads": "2"}, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("folder %v", time.Since(st))
		st = time.Now()
		if _, err := newTokenizer(f); err != nil {
			t.Fatal(err)
		}
		t.Logf("tokenizer %v", time.Since(st))
		for _, name := range []string{"image.onnx", "text.onnx"} {
			p := filepath.Join(dir, name)
			st = time.Now()
			e, err := inspectEncoder(p, "", "", "", name == "text.onnx")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s inspect %v", name, time.Since(st))
			st = time.Now()
			opts, _ := f.Session.ortOptions()
			ins := []string{e.input.Name}
			if e.mask != nil {
				ins = append(ins, e.mask.Name)
			}
			s, err := ort.NewDynamicAdvancedSession(p, ins, []string{e.output.Name}, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s session (our opts) %v", name, time.Since(st))
			s.Destroy()
			opts.Destroy()
			st = time.Now()
			o2, _ := ort.NewSessionOptions()
			o2.SetIntraOpNumThreads(2)
			s, err = ort.NewDynamicAdvancedSession(p, ins, []string{e.output.Name}, o2)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s session (bare opts) %v", name, time.Since(st))
			s.Destroy()
			o2.Destroy()
		}
		st = time.Now()
		if _, err := hashFiles(b.Digests, dir, []string{"image.onnx", "text.onnx"}, ""); err != nil {
			t.Fatal(err)
		}
		t.Logf("hash %v", time.Since(st))
	}
}
