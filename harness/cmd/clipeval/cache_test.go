package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/store"
)

// cacheFixture is a store with two models: biomed (3 texts, d=4, labelled, used at used[0]) and clip (1 image, d=2,
// used at used[1]).
type cacheFixture struct {
	dir, biomed, clip string
}

func cacheVec(seed, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(seed*100+i) + 0.5
	}
	return v
}

func newCacheFixture(t *testing.T, used [2]time.Time) cacheFixture {
	t.Helper()
	f := cacheFixture{
		dir:    filepath.Join(t.TempDir(), "cache"),
		biomed: store.ModelFingerprint(store.Fingerprint{Backend: "onnx", Files: map[string]string{"image.onnx": "aa"}}),
		clip:   store.ModelFingerprint(store.Fingerprint{Backend: "onnx", Files: map[string]string{"image.onnx": "bb"}}),
	}
	now := used[0]
	s, err := store.OpenWith(f.dir, store.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer s.Close()
	texts := []store.Key{store.TextKey("a"), store.TextKey("b"), store.TextKey("c")}
	require.NoError(t, s.Put(f.biomed, texts, [][]float32{cacheVec(1, 4), cacheVec(2, 4), cacheVec(3, 4)}))
	require.NoError(t, s.Touch(f.biomed, "biomedclip (onnx)"))
	now = used[1]
	require.NoError(t, s.Put(f.clip, []store.Key{store.ImageKey([]byte("png"))}, [][]float32{cacheVec(4, 2)}))
	return f
}

// damage flips a byte inside the stored values of vec.
func damage(t *testing.T, dir string, vec []float32) {
	t.Helper()
	path := filepath.Join(dir, store.FileName)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var want []byte
	for _, v := range vec {
		want = binary.LittleEndian.AppendUint32(want, math.Float32bits(v))
	}
	at := bytes.Index(data, want)
	require.GreaterOrEqual(t, at, 0)
	data[at+2] ^= 0x10
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

func fileSize(t *testing.T, dir string) string {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, store.FileName))
	require.NoError(t, err)
	return humanBytes(fi.Size())
}

func TestCacheStats(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := newCacheFixture(t, [2]time.Time{t0, t0.Add(90 * time.Minute)})
	code, out, errOut := invoke("cache", "stats", "--cache-dir", f.dir)
	assert.Equal(t, 0, code)
	assert.Equal(t, "", errOut)
	// biomed: 3 × (32-byte key + 5 + 16 + 4); clip: 32 + 5 + 8 + 4.
	rows := map[string]string{
		f.biomed: f.biomed[:12] + "  biomedclip (onnx)  3        4    171 B  2026-03-01 12:00 UTC\n",
		f.clip:   f.clip[:12] + "  -                  1        2    49 B   2026-03-01 13:30 UTC\n",
	}
	first, second := f.biomed, f.clip
	if second < first {
		first, second = second, first
	}
	assert.Equal(t, "embedding store "+filepath.Join(f.dir, store.FileName)+": 4 entries, 220 B in 2 model(s); the file is "+fileSize(t, f.dir)+"\n"+
		"MODEL         LABEL              ENTRIES  DIM  SIZE   LAST USED\n"+
		rows[first]+rows[second], out)

	t.Run("from the environment", func(t *testing.T) {
		t.Setenv("CLIPEVAL_CACHE_DIR", f.dir)
		code, out2, _ := invoke("cache", "stats")
		assert.Equal(t, 0, code)
		assert.Equal(t, out, out2)
	})
	t.Run("no store yet", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "none")
		code, out, errOut := invoke("cache", "stats", "--cache-dir", dir)
		assert.Equal(t, 0, code)
		assert.Equal(t, "no embedding store in "+dir+" yet: nothing is cached\n", out)
		assert.Equal(t, "", errOut)
		assert.NoDirExists(t, dir, "looking does not create it")
	})
}

func TestCacheVerify(t *testing.T) {
	now := time.Now()
	f := newCacheFixture(t, [2]time.Time{now, now})
	path := filepath.Join(f.dir, store.FileName)

	code, out, errOut := invoke("cache", "verify", "--cache-dir", f.dir)
	assert.Equal(t, 0, code)
	assert.Equal(t, "verified 4 entries of 2 model(s) in "+path+": all sound\n", out)
	assert.Equal(t, "", errOut)

	damage(t, f.dir, cacheVec(2, 4))
	code, out, errOut = invoke("cache", "verify", "--cache-dir", f.dir)
	assert.Equal(t, 1, code)
	assert.Equal(t, "verified 4 entries of 2 model(s) in "+path+": 1 corrupt, removed\n", out)
	assert.Equal(t, "clipeval: the embedding store was not sound: 1 corrupt entries were removed (runs encode them again); the store is sound now\n", errOut)

	code, out, _ = invoke("cache", "verify", "--cache-dir", f.dir)
	assert.Equal(t, 0, code, "sound once repaired")
	assert.Equal(t, "verified 3 entries of 2 model(s) in "+path+": all sound\n", out)

	code, out, _ = invoke("cache", "stats", "--cache-dir", f.dir)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "\n1 corrupt entries found and removed so far (they were encoded again)\n")
}

func TestCacheDamagedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("garbage "), 2048), 0o644))

	code, out, errOut := invoke("cache", "verify", "--cache-dir", dir)
	assert.Equal(t, 1, code)
	assert.Equal(t, "", out)
	assert.Equal(t, "clipeval: verifying the embedding store: the embedding store's file is damaged: "+path+
		": invalid database (clipeval cache prune --all --cache-dir "+dir+" starts it empty)\n", errOut)

	code, out, errOut = invoke("cache", "prune", "--all", "--cache-dir", dir)
	assert.Equal(t, 0, code)
	assert.Equal(t, "removed 0 model(s), 0 entries (0 B); the file went from 16.0 KiB to "+fileSize(t, dir)+"\n", out)
	assert.Equal(t, "", errOut)

	code, out, _ = invoke("cache", "verify", "--cache-dir", dir)
	assert.Equal(t, 0, code)
	assert.Equal(t, "verified 0 entries of 0 model(s) in "+path+": all sound\n", out)
}

func TestCachePrune(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		args    func(f cacheFixture) []string
		removed func(f cacheFixture) []string
		entries int
	}{
		{"by fingerprint", func(f cacheFixture) []string { return []string{"--model", f.clip} },
			func(f cacheFixture) []string { return []string{f.clip} }, 1},
		{"by prefix", func(f cacheFixture) []string { return []string{"--model", f.biomed[:8]} },
			func(f cacheFixture) []string { return []string{f.biomed} }, 3},
		{"two models", func(f cacheFixture) []string { return []string{"--model", f.biomed[:10], "--model", f.clip[:12]} },
			func(f cacheFixture) []string { return sorted(f.biomed, f.clip) }, 4},
		{"unused for a day", func(cacheFixture) []string { return []string{"--unused-for", "1d"} },
			func(f cacheFixture) []string { return []string{f.biomed} }, 3},
		{"unused for 72h", func(cacheFixture) []string { return []string{"--unused-for", "72h"} },
			func(cacheFixture) []string { return nil }, 0},
		{"all", func(cacheFixture) []string { return []string{"--all"} },
			func(f cacheFixture) []string { return sorted(f.biomed, f.clip) }, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t, [2]time.Time{now.Add(-48 * time.Hour), now.Add(-time.Hour)})
			before := fileSize(t, f.dir)
			code, out, errOut := invoke(append([]string{"cache", "prune", "--cache-dir", f.dir}, tc.args(f)...)...)
			assert.Equal(t, 0, code)
			assert.Equal(t, "", errOut)
			removed := tc.removed(f)
			if len(removed) == 0 {
				assert.Equal(t, "nothing to remove\n", out)
				return
			}
			want := ""
			for _, m := range removed {
				want += "removed " + m + "\n"
			}
			var size int64 = 171
			switch tc.entries {
			case 1:
				size = 49
			case 4:
				size = 220
			}
			want += "removed " + strconv.Itoa(len(removed)) + " model(s), " + strconv.Itoa(tc.entries) + " entries (" + humanBytes(size) + "); the file went from " +
				before + " to " + fileSize(t, f.dir) + "\n"
			assert.Equal(t, want, out)

			code, out, _ = invoke("cache", "stats", "--cache-dir", f.dir)
			assert.Equal(t, 0, code)
			assert.Contains(t, out, ": "+strconv.Itoa(4-tc.entries)+" entries, ")
		})
	}
}

func TestCacheBadInput(t *testing.T) {
	f := newCacheFixture(t, [2]time.Time{time.Now(), time.Now()})
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no subcommand", []string{"cache"}, "clipeval: cache takes one of stats, verify or prune, got [] (see clipeval cache --help)\n"},
		{"unknown subcommand", []string{"cache", "clear"}, "clipeval: cache takes one of stats, verify or prune, got [\"clear\"] (see clipeval cache --help)\n"},
		{"two subcommands", []string{"cache", "stats", "verify"}, "clipeval: cache takes one of stats, verify or prune, got [\"stats\" \"verify\"] (see clipeval cache --help)\n"},
		{"prune without what", []string{"cache", "prune"}, "clipeval: cache prune: say what to remove: --model FINGERPRINT, --unused-for AGE or --all\n"},
		{"prune all and more", []string{"cache", "prune", "--all", "--unused-for", "3d"}, "clipeval: cache prune: --all removes everything; give it alone\n"},
		{"prune flags on stats", []string{"cache", "stats", "--all"}, "clipeval: cache stats: --model, --unused-for and --all go with cache prune\n"},
		{"a short prefix", []string{"cache", "prune", "--model", f.clip[:7]},
			"clipeval: cache prune --model " + f.clip[:7] + ": give the fingerprint, or at least its first 8 digits (clipeval cache stats lists them)\n"},
		{"an unknown model", []string{"cache", "prune", "--model", "0123456789"},
			"clipeval: cache prune --model 0123456789: no model in " + f.dir + " has such a fingerprint (clipeval cache stats lists them)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := invoke(append(tc.args, "--cache-dir", f.dir)...)
			assert.Equal(t, 2, code)
			assert.Equal(t, "", out)
			assert.Equal(t, tc.wantErr, errOut)
		})
	}

	ages := []struct{ arg, wantErr string }{
		{"soon", `invalid value "soon" for flag -unused-for: want a Go duration such as 36h, or a number of days such as 30d`},
		{"xd", `invalid value "xd" for flag -unused-for: want a number of days such as 30d, or a Go duration such as 36h`},
		{"0d", `invalid value "0d" for flag -unused-for: want an age above zero`},
		{"-3h", `invalid value "-3h" for flag -unused-for: want an age above zero`},
	}
	for _, tc := range ages {
		t.Run("age "+tc.arg, func(t *testing.T) {
			code, _, errOut := invoke("cache", "prune", "--unused-for", tc.arg, "--cache-dir", f.dir)
			assert.Equal(t, 2, code)
			assert.Contains(t, errOut, "clipeval: cache: "+tc.wantErr+"\n")
		})
	}
	code, _, _ := invoke("cache", "stats", "--cache-dir", f.dir)
	assert.Equal(t, 0, code, "nothing was removed")
}

func TestAgeFlag(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30d", 30 * 24 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"36h", 36 * time.Hour},
		{"90m", 90 * time.Minute},
	}
	for _, tc := range tests {
		var a ageFlag
		require.NoError(t, a.Set(tc.in), tc.in)
		assert.Equal(t, tc.want, time.Duration(a), tc.in)
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}, {2 << 40, "2.0 TiB"}, {2048 << 40, "2048.0 TiB"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, humanBytes(tc.n), "%d", tc.n)
	}
}

func sorted(a, b string) []string {
	if b < a {
		return []string{b, a}
	}
	return []string{a, b}
}
