package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// vec returns a deterministic vector of dim values for seed.
func vec(seed, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(seed*1000+i) + 0.25
	}
	return v
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func open(t *testing.T, dir string, c *clock) *Store {
	t.Helper()
	s, err := OpenWith(dir, Options{LockTimeout: 2 * time.Second, Now: c.now})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestPutGet(t *testing.T) {
	s := open(t, t.TempDir(), &clock{t0})
	a, b, c := TextKey("a"), TextKey("b"), ImageKey([]byte("c"))
	require.NoError(t, s.Put("m1", []Key{a, b}, [][]float32{vec(1, 4), vec(2, 4)}))
	require.NoError(t, s.Put("m2", []Key{a}, [][]float32{vec(3, 2)}))

	tests := []struct {
		name  string
		model string
		keys  []Key
		want  map[int][]float32
	}{
		{"all found", "m1", []Key{a, b}, map[int][]float32{0: vec(1, 4), 1: vec(2, 4)}},
		{"by index, with misses", "m1", []Key{c, b, c, a}, map[int][]float32{1: vec(2, 4), 3: vec(1, 4)}},
		{"a key twice", "m1", []Key{a, a}, map[int][]float32{0: vec(1, 4), 1: vec(1, 4)}},
		{"models are apart", "m2", []Key{a, b}, map[int][]float32{0: vec(3, 2)}},
		{"unknown model", "m3", []Key{a}, map[int][]float32{}},
		{"no keys", "m1", nil, map[int][]float32{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Get(tc.model, tc.keys)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("a Put replaces", func(t *testing.T) {
		require.NoError(t, s.Put("m1", []Key{a}, [][]float32{vec(9, 3)}))
		got, err := s.Get("m1", []Key{a})
		require.NoError(t, err)
		assert.Equal(t, map[int][]float32{0: vec(9, 3)}, got)
	})
	t.Run("another handle sees it", func(t *testing.T) {
		s2 := open(t, s.Dir(), &clock{t0})
		got, err := s2.Get("m2", []Key{a})
		require.NoError(t, err)
		assert.Equal(t, map[int][]float32{0: vec(3, 2)}, got)
	})
	assert.Equal(t, int64(0), s.Dropped())
}

func TestBadCalls(t *testing.T) {
	s := open(t, t.TempDir(), &clock{t0})
	k := TextKey("a")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Put without model", s.Put("", []Key{k}, [][]float32{vec(1, 2)}), "embedding store: Put without a model fingerprint"},
		{"Put counts differ", s.Put("m", []Key{k, k}, [][]float32{vec(1, 2)}), "embedding store: Put of 2 keys with 1 vectors"},
		{"Put empty vector", s.Put("m", []Key{k}, [][]float32{{}}), "embedding store: vector 0 has 0 values, want 1 to 65536"},
		{"Put huge vector", s.Put("m", []Key{k}, [][]float32{make([]float32, maxDim+1)}), "embedding store: vector 0 has 65537 values, want 1 to 65536"},
		{"Get without model", func() error { _, err := s.Get("", []Key{k}); return err }(), "embedding store: Get without a model fingerprint"},
		{"Touch without model", s.Touch("", "x"), "embedding store: Touch without a model fingerprint"},
		{"no folder", func() error { _, err := Open(""); return err }(), "opening the embedding store: no folder given"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.EqualError(t, tc.err, tc.want)
		})
	}
	require.NoError(t, s.Close())
	assert.EqualError(t, s.Put("m", []Key{k}, [][]float32{vec(1, 2)}), "embedding store "+s.Dir()+": used after Close")
}

// flip XORs the byte at offset off of the first occurrence of the entry of model/key/v in the data file.
func flip(t *testing.T, s *Store, model string, key Key, v []float32, off int) {
	t.Helper()
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	entry := encodeEntry(model, key, v)
	at := bytes.Index(data, entry)
	require.GreaterOrEqual(t, at, 0, "the entry is in the file")
	require.Equal(t, -1, bytes.Index(data[at+1:], entry), "the entry is in the file once")
	f, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt([]byte{data[at+off] ^ 0x40}, int64(at+off))
	require.NoError(t, err)
}

// TestDamagedEntryIsRefused flips one byte in each part of a stored entry and checks that Get reports it missing,
// deletes and counts it, and leaves its neighbours alone.
func TestDamagedEntryIsRefused(t *testing.T) {
	const dim = 8
	tests := []struct {
		name string
		off  int
	}{
		{"version", 0},
		{"dimension", 1},
		{"dimension high byte", 4},
		{"first value", entryHeader},
		{"a middle value's sign", entryHeader + 4*3 + 3},
		{"last value", entryHeader + 4*dim - 1},
		{"checksum", entryHeader + 4*dim},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, t.TempDir(), &clock{t0})
			keys := []Key{TextKey("a"), TextKey("b"), TextKey("c")}
			require.NoError(t, s.Put("m", keys, [][]float32{vec(1, dim), vec(2, dim), vec(3, dim)}))
			flip(t, s, "m", keys[1], vec(2, dim), tc.off)

			got, err := s.Get("m", keys)
			require.NoError(t, err)
			assert.Equal(t, map[int][]float32{0: vec(1, dim), 2: vec(3, dim)}, got)
			assert.Equal(t, int64(1), s.Dropped())

			got, err = s.Get("m", keys)
			require.NoError(t, err)
			assert.Equal(t, map[int][]float32{0: vec(1, dim), 2: vec(3, dim)}, got, "still missing, until Put again")
			assert.Equal(t, int64(1), s.Dropped(), "deleted the first time")

			st, err := s.Stats()
			require.NoError(t, err)
			assert.Equal(t, uint64(1), st.Dropped)
			assert.Equal(t, 2, st.Entries)

			r, err := s.Verify()
			require.NoError(t, err)
			assert.Equal(t, Report{Models: 1, Entries: 2}, r)
		})
	}
}

// TestVerifyRemovesDamagedEntries damages entries behind the store's back and checks that Verify finds, deletes and
// counts exactly them.
func TestVerifyRemovesDamagedEntries(t *testing.T) {
	s := open(t, t.TempDir(), &clock{t0})
	var keys []Key
	var vecs [][]float32
	for i := range 10 {
		keys = append(keys, TextKey(fmt.Sprint(i)))
		vecs = append(vecs, vec(i, 16))
	}
	require.NoError(t, s.Put("m", keys, vecs))
	require.NoError(t, s.Put("n", keys[:3], vecs[:3]))
	flip(t, s, "m", keys[4], vecs[4], entryHeader+5)
	flip(t, s, "m", keys[7], vecs[7], 2)
	flip(t, s, "n", keys[0], vecs[0], entryHeader+4*16+1)

	r, err := s.Verify()
	require.NoError(t, err)
	assert.Equal(t, Report{Models: 2, Entries: 13, Corrupt: 3}, r)
	assert.False(t, r.OK())

	r, err = s.Verify()
	require.NoError(t, err)
	assert.Equal(t, Report{Models: 2, Entries: 10}, r)
	assert.True(t, r.OK())

	got, err := s.Get("m", keys)
	require.NoError(t, err)
	assert.Len(t, got, 8)
	assert.NotContains(t, got, 4)
	assert.NotContains(t, got, 7)
	st, err := s.Stats()
	require.NoError(t, err)
	assert.Equal(t, uint64(3), st.Dropped)
}

func TestNotAStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 1000), 0o644))
	s := open(t, dir, &clock{t0}) // Open leaves an existing file alone, so that it can be pruned
	_, err := s.Get("m", []Key{TextKey("a")})
	assert.ErrorIs(t, err, ErrDamaged)
	assert.EqualError(t, err, "the embedding store's file is damaged: "+path+": invalid database (clipeval cache prune --all --cache-dir "+dir+" starts it empty)")
	assert.ErrorIs(t, s.Put("m", []Key{TextKey("a")}, [][]float32{vec(1, 2)}), ErrDamaged)
	_, err = s.Verify()
	assert.ErrorIs(t, err, ErrDamaged)

	// Prune with All does not read the old file, so it clears one that cannot be opened.
	r, err := s.Prune(PruneOptions{All: true})
	require.NoError(t, err)
	assert.Equal(t, int64(17000), r.FileBefore)
	assert.Equal(t, 0, r.Entries)
	require.NoError(t, s.Put("m", []Key{TextKey("a")}, [][]float32{vec(1, 2)}))
	got, err := s.Get("m", []Key{TextKey("a")})
	require.NoError(t, err)
	assert.Equal(t, map[int][]float32{0: vec(1, 2)}, got)
}

func TestOtherFormatIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, &clock{t0})
	require.NoError(t, s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaFormat, []byte("9")) }))
	_, err := s.Get("m", []Key{TextKey("a")})
	assert.EqualError(t, err, "embedding store "+s.Path()+` has format "9", this clipeval reads format "1": pass another --cache-dir, or remove it with clipeval cache prune --all`)
}

func TestBusy(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenWith(dir, Options{LockTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()

	// Another process's transaction: an exclusive flock on the lock file through another descriptor.
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))

	start := time.Now()
	_, err = s.Get("m", []Key{TextKey("a")})
	assert.ErrorIs(t, err, ErrBusy)
	assert.EqualError(t, err, "the embedding store is busy: "+dir+
		" has been locked by another process for more than 50ms (a clipeval cache verify or prune?); wait for it to end, or run with --no-cache")
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	// Readers share: a shared lock held elsewhere lets Get through but makes Put wait.
	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_SH))
	_, err = s.Get("m", []Key{TextKey("a")})
	assert.NoError(t, err)
	assert.ErrorIs(t, s.Put("m", []Key{TextKey("a")}, [][]float32{vec(1, 2)}), ErrBusy)

	require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_UN))
	assert.NoError(t, s.Put("m", []Key{TextKey("a")}, [][]float32{vec(1, 2)}))
}

// TestConcurrentHandles has several handles (as several processes would) write and read one store at once.
func TestConcurrentHandles(t *testing.T) {
	dir := t.TempDir()
	const writers, batches, batch = 4, 10, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenWith(dir, Options{LockTimeout: 10 * time.Second})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for b := range batches {
				var keys []Key
				var vecs [][]float32
				for i := range batch {
					n := (w*batches+b)*batch + i
					keys = append(keys, TextKey(fmt.Sprint(n)))
					vecs = append(vecs, vec(n, 32))
				}
				if err := s.Put("m", keys, vecs); err != nil {
					errs <- err
					return
				}
				got, err := s.Get("m", keys)
				if err != nil {
					errs <- err
					return
				}
				if len(got) != batch {
					errs <- fmt.Errorf("writer %d batch %d: read back %d of %d", w, b, len(got), batch)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := open(t, dir, &clock{t0})
	st, err := s.Stats()
	require.NoError(t, err)
	assert.Equal(t, writers*batches*batch, st.Entries)
}

func TestStats(t *testing.T) {
	c := &clock{t0}
	s := open(t, t.TempDir(), c)
	st, err := s.Stats()
	require.NoError(t, err)
	assert.Equal(t, Stats{Dir: s.Dir(), Path: s.Path(), FileBytes: st.FileBytes}, st)
	assert.Positive(t, st.FileBytes)

	require.NoError(t, s.Put("bbb", []Key{TextKey("a"), TextKey("b")}, [][]float32{vec(1, 512), vec(2, 512)}))
	c.t = t0.Add(time.Hour)
	require.NoError(t, s.Put("aaa", []Key{TextKey("a")}, [][]float32{vec(1, 3)}))
	c.t = t0.Add(2 * time.Hour)
	require.NoError(t, s.Touch("bbb", "biomedclip (onnx)"))

	st, err = s.Stats()
	require.NoError(t, err)
	e512, e3 := int64(32+entrySize(512)), int64(32+entrySize(3))
	assert.Equal(t, Stats{
		Dir: s.Dir(), Path: s.Path(), FileBytes: st.FileBytes,
		Models: []ModelStats{
			{Model: "aaa", Entries: 1, Bytes: e3, Dim: 3, LastUsed: t0.Add(time.Hour)},
			{Model: "bbb", Label: "biomedclip (onnx)", Entries: 2, Bytes: 2 * e512, Dim: 512, LastUsed: t0.Add(2 * time.Hour)},
		},
		Entries: 3, Bytes: e3 + 2*e512,
	}, st)
	assert.Equal(t, int64(32+5+2048+4), e512)
}

func TestPrune(t *testing.T) {
	// Three models used at t0, t0+1h and t0+2h, with 200 entries of 512 values each; now is t0+3h.
	setup := func(t *testing.T) *Store {
		c := &clock{t0}
		s := open(t, t.TempDir(), c)
		for m, name := range []string{"old", "mid", "new"} {
			c.t = t0.Add(time.Duration(m) * time.Hour)
			var keys []Key
			var vecs [][]float32
			for i := range 200 {
				keys = append(keys, TextKey(fmt.Sprint(i)))
				vecs = append(vecs, vec(i, 512))
			}
			require.NoError(t, s.Put(name, keys, vecs))
		}
		c.t = t0.Add(3 * time.Hour)
		return s
	}
	per := int64(200 * (32 + entrySize(512)))
	tests := []struct {
		name        string
		opts        PruneOptions
		wantRemoved []string
		wantKept    []string
	}{
		{"one model", PruneOptions{Models: []string{"mid"}}, []string{"mid"}, []string{"new", "old"}},
		{"an unknown model", PruneOptions{Models: []string{"nope"}}, nil, []string{"mid", "new", "old"}},
		{"unused for 90 minutes", PruneOptions{UnusedFor: 90 * time.Minute}, []string{"mid", "old"}, []string{"new"}},
		{"unused for a day", PruneOptions{UnusedFor: 24 * time.Hour}, nil, []string{"mid", "new", "old"}},
		{"a model and the unused", PruneOptions{Models: []string{"new"}, UnusedFor: 150 * time.Minute}, []string{"new", "old"}, []string{"mid"}},
		{"all", PruneOptions{All: true}, []string{"mid", "new", "old"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := setup(t)
			before, err := os.Stat(s.Path())
			require.NoError(t, err)
			r, err := s.Prune(tc.opts)
			require.NoError(t, err)
			assert.Equal(t, tc.wantRemoved, r.Models)
			assert.Equal(t, 200*len(tc.wantRemoved), r.Entries)
			assert.Equal(t, per*int64(len(tc.wantRemoved)), r.Bytes)
			assert.Equal(t, before.Size(), r.FileBefore)
			if len(tc.wantRemoved) > 0 {
				assert.Less(t, r.FileAfter, r.FileBefore, "the file shrinks")
			} else {
				assert.Equal(t, r.FileBefore, r.FileAfter, "nothing to remove: the file is left alone")
			}

			st, err := s.Stats()
			require.NoError(t, err)
			var kept []string
			for _, m := range st.Models {
				kept = append(kept, m.Model)
				assert.Equal(t, 200, m.Entries)
				assert.False(t, m.LastUsed.IsZero(), "the records are copied")
			}
			assert.Equal(t, tc.wantKept, kept)
			for _, m := range tc.wantKept {
				got, err := s.Get(m, []Key{TextKey("0"), TextKey("199")})
				require.NoError(t, err)
				assert.Equal(t, map[int][]float32{0: vec(0, 512), 1: vec(199, 512)}, got)
			}
			r2, err := s.Verify()
			require.NoError(t, err)
			assert.True(t, r2.OK())
		})
	}
	t.Run("nothing said", func(t *testing.T) {
		s := open(t, t.TempDir(), &clock{t0})
		_, err := s.Prune(PruneOptions{})
		assert.EqualError(t, err, "embedding store prune: say what to remove (models, unused for a duration, or all)")
	})
	t.Run("drops damaged entries while copying", func(t *testing.T) {
		s := setup(t)
		flip(t, s, "new", TextKey("5"), vec(5, 512), entryHeader+100)
		_, err := s.Prune(PruneOptions{Models: []string{"old"}})
		require.NoError(t, err)
		st, err := s.Stats()
		require.NoError(t, err)
		assert.Equal(t, 399, st.Entries)
		assert.Equal(t, uint64(1), st.Dropped)
	})
}

func TestRemovedFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	s := open(t, dir, &clock{t0})
	require.NoError(t, s.Put("m", []Key{TextKey("a")}, [][]float32{vec(1, 2)}))
	require.NoError(t, os.RemoveAll(dir))

	got, err := s.Get("m", []Key{TextKey("a")})
	require.NoError(t, err)
	assert.Empty(t, got, "a removed store reads as empty")
	require.NoError(t, s.Put("m", []Key{TextKey("a")}, [][]float32{vec(1, 2)}))
	got, err = s.Get("m", []Key{TextKey("a")})
	require.NoError(t, err)
	assert.Equal(t, map[int][]float32{0: vec(1, 2)}, got)
}

func TestDefaultDir(t *testing.T) {
	tests := []struct {
		name          string
		cacheDir, xdg string
		home          string
		want          string
	}{
		{"CLIPEVAL_CACHE_DIR", "/c", "/x", "/h", "/c"},
		{"XDG_CACHE_HOME", "", "/x", "/h", "/x/clipeval"},
		{"home", "", "", "/h", "/h/.cache/clipeval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CLIPEVAL_CACHE_DIR", tc.cacheDir)
			t.Setenv("XDG_CACHE_HOME", tc.xdg)
			t.Setenv("HOME", tc.home)
			got, err := DefaultDir()
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("nowhere", func(t *testing.T) {
		t.Setenv("CLIPEVAL_CACHE_DIR", "")
		t.Setenv("XDG_CACHE_HOME", "")
		t.Setenv("HOME", "")
		_, err := DefaultDir()
		assert.EqualError(t, err, "finding the embedding store's folder: neither $XDG_CACHE_HOME nor $HOME are defined (set CLIPEVAL_CACHE_DIR or pass --cache-dir)")
	})
}

// TestDamagedPages flips bytes in the headers of bbolt's pages (not in entries) and checks that neither Get nor
// Verify crashes or returns a wrong vector: each returns exact vectors, or an error wrapping ErrDamaged, or (Verify)
// a report of the damage; and that Prune with All then starts the store afresh on the same handle.
func TestDamagedPages(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, &clock{t0})
	var keys []Key
	var vecs [][]float32
	for i := range 300 {
		keys = append(keys, TextKey(fmt.Sprint(i)))
		vecs = append(vecs, vec(i, 64))
	}
	require.NoError(t, s.Put("m", keys, vecs))
	good, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	pages := len(good) / 4096
	require.Greater(t, pages, 8)

	outcomes := map[string]int{}
	for p := 2; p < pages; p++ {
		for _, off := range []int{8, 10, 12} { // flags, count, overflow
			t.Run(fmt.Sprintf("page %d byte %d", p, off), func(t *testing.T) {
				data := bytes.Clone(good)
				data[p*4096+off] ^= 0x05
				cdir := t.TempDir()
				require.NoError(t, os.WriteFile(filepath.Join(cdir, FileName), data, 0o644))
				c := open(t, cdir, &clock{t0})

				got, err := c.Get("m", keys)
				switch {
				case err != nil:
					assert.ErrorIs(t, err, ErrDamaged)
					outcomes["get: damaged"]++
				default:
					for i, v := range got {
						require.Equal(t, vecs[i], v, "entry %d", i)
					}
					outcomes[fmt.Sprintf("get: %d found", min(len(got), 1)*300)]++
				}
				r, err := c.Verify()
				switch {
				case err != nil:
					assert.ErrorIs(t, err, ErrDamaged)
					outcomes["verify: error"]++
				case r.DamagedTotal > 0:
					outcomes["verify: damaged"]++
				default:
					outcomes["verify: sound"]++
				}

				// Whatever happened, the handle holds no lock it lost track of: starting afresh works at once.
				_, err = c.Prune(PruneOptions{All: true})
				require.NoError(t, err)
				require.NoError(t, c.Put("m", keys[:1], vecs[:1]))
				got, err = c.Get("m", keys[:1])
				require.NoError(t, err)
				assert.Equal(t, map[int][]float32{0: vecs[0]}, got)
			})
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
