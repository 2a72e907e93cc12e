// Package store is clipeval's persistent, content-addressed embedding store: one bbolt file per machine (shared by
// every run and config) mapping a model's fingerprint × an input's content to its embedding.
//
// Every entry carries a crc32c over its model, key and vector; a reader returns only entries that verify, and drops
// (deletes and counts) those that do not, so that they are encoded again. Writes are bbolt transactions, fsynced
// before Put returns: a process killed at any moment leaves the store as it was before or after each transaction,
// never in between. Processes share the store through an flock on a lock file beside it, held only for the span of
// one transaction (shared for reads, exclusive for writes), so concurrent runs on one machine interleave rather than
// wait for each other to finish. See docs/embedding-store.md.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// File names inside the store's folder.
const (
	// FileName is the bbolt data file.
	FileName = "embeddings.db"
	// LockName is the lock file every process flocks around each transaction; it is never removed.
	LockName = "embeddings.lock"
	// tmpName is where Prune builds the replacement data file before renaming it over FileName.
	tmpName = "embeddings.db.tmp"
)

// DefaultLockTimeout is how long an operation waits for another process's transaction (a long prune or verify)
// before it fails with ErrBusy.
const DefaultLockTimeout = 2 * time.Minute

// formatVersion is the layout of the buckets and entries; a store of another version is refused, not misread.
const formatVersion = "1"

// Bucket names: meta (format, counters), models (one nested bucket of entries per model fingerprint) and info (per
// model: label and last use, JSON).
var (
	bucketMeta   = []byte("meta")
	bucketModels = []byte("models")
	bucketInfo   = []byte("info")

	metaFormat  = []byte("format")
	metaDropped = []byte("corrupt_removed")
)

// ErrBusy means another process held the store's lock for longer than the lock timeout.
var ErrBusy = errors.New("the embedding store is busy")

// errBusy is what lock returns; the store wraps it as ErrBusy with the folder and what to do.
var errBusy = errors.New("lock held")

// ErrDamaged means the store's file is damaged beyond one entry: bbolt found its pages inconsistent.
var ErrDamaged = errors.New("the embedding store's file is damaged")

// Options tune Open; the zero value is the default.
type Options struct {
	// LockTimeout is how long to wait for another process's transaction (default DefaultLockTimeout).
	LockTimeout time.Duration
	// Now is the clock for last-use times (default time.Now).
	Now func() time.Time
}

// Store is an open embedding store. Its methods are safe for concurrent use; within a process they run one at a
// time, across processes they share the store through its lock file.
type Store struct {
	dir  string
	opts Options

	mu     sync.Mutex // serialises this handle's operations; guards the fields below
	lockf  *os.File
	closed bool
	// damaged is the data file whose opening panicked, and damagedErr why. bbolt's memory map of it, and so its
	// flock, outlive the panic: later operations on that same file fail at once with damagedErr instead of waiting
	// for the lock, until Prune with All replaces it.
	damaged    os.FileInfo
	damagedErr error

	dropped atomic.Int64
}

// DefaultDir returns where the store lives unless told otherwise: $CLIPEVAL_CACHE_DIR, else
// $XDG_CACHE_HOME/clipeval, else ~/.cache/clipeval (os.UserCacheDir's rule).
func DefaultDir() (string, error) {
	if d := os.Getenv("CLIPEVAL_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the embedding store's folder: %w (set CLIPEVAL_CACHE_DIR or pass --cache-dir)", err)
	}
	return filepath.Join(d, "clipeval"), nil
}

// Open opens the store in dir with the default options, creating dir and an empty store when there is none.
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the store in dir, creating dir and an empty store when there is none.
func OpenWith(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("opening the embedding store: no folder given")
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{dir: dir, opts: opts}
	// Create the file when there is none; an existing one is read (its format checked) at its first use, so that
	// even a damaged one can be opened to be pruned.
	err := s.locked(true, func() error {
		if st, err := os.Stat(s.Path()); err == nil && st.Size() > 0 {
			return nil
		}
		return s.replaceFile(nil)
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Dir returns the store's folder.
func (s *Store) Dir() string { return s.dir }

// Path returns the store's data file.
func (s *Store) Path() string { return filepath.Join(s.dir, FileName) }

// Dropped returns how many corrupt entries this handle found, deleted and reported as missing since it was opened.
func (s *Store) Dropped() int64 { return s.dropped.Load() }

// Close releases the handle. It holds no lock between operations, so closing only frees the lock file's
// descriptor; a closed store refuses further operations.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.lockf == nil {
		return nil
	}
	err := s.lockf.Close()
	s.lockf = nil
	if err != nil {
		return fmt.Errorf("closing the embedding store %s: %w", s.dir, err)
	}
	return nil
}

// Get returns the stored vectors of model for keys, by index into keys; keys not stored are absent. An entry that
// fails verification is never returned: it is deleted, counted (Dropped, Stats) and absent, so it is encoded again.
func (s *Store) Get(model string, keys []Key) (map[int][]float32, error) {
	if model == "" {
		return nil, errors.New("embedding store: Get without a model fingerprint")
	}
	found := make(map[int][]float32)
	var bad []Key
	err := s.view(func(tx *bolt.Tx) error {
		b := modelBucket(tx, model)
		if b == nil {
			return nil
		}
		for i, k := range keys {
			v := b.Get(k[:])
			if v == nil {
				continue
			}
			vec, err := decodeEntry(model, k[:], v)
			if err != nil {
				bad = append(bad, k)
				continue
			}
			found[i] = vec
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		if err := s.drop(model, bad); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// drop deletes the entries of model under keys that (still) fail verification.
func (s *Store) drop(model string, keys []Key) error {
	return s.update(func(tx *bolt.Tx) error {
		b := modelBucket(tx, model)
		if b == nil {
			return nil
		}
		n := 0
		for _, k := range keys {
			v := b.Get(k[:])
			if v == nil {
				continue
			}
			if _, err := checkEntry(model, k[:], v); err == nil {
				continue // rewritten by another process since
			}
			if err := b.Delete(k[:]); err != nil {
				return fmt.Errorf("deleting a corrupt entry: %w", err)
			}
			n++
		}
		s.dropped.Add(int64(n))
		return addDropped(tx, n)
	})
}

// Put stores vecs[i] as model's embedding of keys[i], replacing what was there, in one transaction that is on
// disk (fsynced) when Put returns; it also records the model's last use.
func (s *Store) Put(model string, keys []Key, vecs [][]float32) error {
	if model == "" {
		return errors.New("embedding store: Put without a model fingerprint")
	}
	if len(keys) != len(vecs) {
		return fmt.Errorf("embedding store: Put of %d keys with %d vectors", len(keys), len(vecs))
	}
	values := make([][]byte, len(vecs))
	for i, v := range vecs {
		if len(v) < 1 || len(v) > maxDim {
			return fmt.Errorf("embedding store: vector %d has %d values, want 1 to %d", i, len(v), maxDim)
		}
		values[i] = encodeEntry(model, keys[i], v)
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketModels).CreateBucketIfNotExists([]byte(model))
		if err != nil {
			return fmt.Errorf("creating the bucket of model %s: %w", model, err)
		}
		for i, k := range keys {
			if err := b.Put(k[:], values[i]); err != nil {
				return fmt.Errorf("storing entry %d of %d: %w", i+1, len(keys), err)
			}
		}
		return s.touch(tx, model, "")
	})
}

// Touch records that model was used now, and its label (a human-readable name such as "biomedclip (onnx)", shown by
// Stats) when label is not empty. A run calls it once per model so that Prune by last use spares models it only
// read.
func (s *Store) Touch(model, label string) error {
	if model == "" {
		return errors.New("embedding store: Touch without a model fingerprint")
	}
	return s.update(func(tx *bolt.Tx) error { return s.touch(tx, model, label) })
}

// modelInfo is a model's record in the info bucket.
type modelInfo struct {
	Label    string    `json:"label,omitempty"`
	LastUsed time.Time `json:"last_used"`
}

func (s *Store) touch(tx *bolt.Tx, model, label string) error {
	b := tx.Bucket(bucketInfo)
	info := readInfo(b, model)
	if label != "" {
		info.Label = label
	}
	info.LastUsed = s.opts.Now().UTC()
	v, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encoding model %s's record: %w", model, err)
	}
	if err := b.Put([]byte(model), v); err != nil {
		return fmt.Errorf("recording model %s's last use: %w", model, err)
	}
	return nil
}

// readInfo returns model's record; a missing or unreadable one is the zero record (never used).
func readInfo(b *bolt.Bucket, model string) modelInfo {
	var info modelInfo
	if v := b.Get([]byte(model)); v != nil {
		if err := json.Unmarshal(v, &info); err != nil {
			return modelInfo{}
		}
	}
	return info
}

func modelBucket(tx *bolt.Tx, model string) *bolt.Bucket {
	if b := tx.Bucket(bucketModels); b != nil {
		return b.Bucket([]byte(model))
	}
	return nil
}

func addDropped(tx *bolt.Tx, n int) error {
	if n == 0 {
		return nil
	}
	b := tx.Bucket(bucketMeta)
	if err := b.Put(metaDropped, binary.BigEndian.AppendUint64(nil, readDropped(b)+uint64(n))); err != nil {
		return fmt.Errorf("counting corrupt entries: %w", err)
	}
	return nil
}

func readDropped(b *bolt.Bucket) uint64 {
	if b == nil {
		return 0
	}
	if v := b.Get(metaDropped); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// view runs fn in a read transaction under the shared lock. A store whose file is missing (removed by hand since
// Open) reads as empty.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return s.with(false, func(db *bolt.DB) error {
		if db == nil {
			return nil
		}
		return db.View(func(tx *bolt.Tx) error {
			if err := checkFormat(tx, s.Path()); err != nil {
				return err
			}
			return fn(tx)
		})
	})
}

// update runs fn in a write transaction under the exclusive lock, creating the file and its buckets if needed.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	return s.with(true, func(db *bolt.DB) error {
		return db.Update(func(tx *bolt.Tx) error {
			if err := initBuckets(tx, s.Path()); err != nil {
				return err
			}
			return fn(tx)
		})
	})
}

// with takes the store's lock (exclusive or shared), opens the data file for the span of fn and closes it, so that
// no process holds the store between operations. A panic or memory fault inside bbolt (a damaged page) comes back
// as ErrDamaged instead of crashing the run. A missing data file is created (exclusive) or reads as empty: fn gets a
// nil db (shared).
func (s *Store) with(exclusive bool, fn func(*bolt.DB) error) error {
	return s.locked(exclusive, func() error {
		path := s.Path()
		if st, err := os.Stat(path); errors.Is(err, os.ErrNotExist) || (err == nil && st.Size() == 0) {
			if !exclusive {
				return fn(nil)
			}
			if err := s.replaceFile(nil); err != nil {
				return err
			}
		}
		db, err := s.openDB(!exclusive, s.opts.LockTimeout)
		if err != nil {
			return err
		}
		err = protect(path, s.dir, func() error { return fn(db) })
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the embedding store %s: %w", path, cerr)
		}
		return err
	})
}

// openDB opens the data file, which must exist, waiting up to timeout for bbolt's own flock. bbolt reads its meta
// and free-list pages on open and may panic on damaged ones: that comes back as ErrDamaged, and the file is
// remembered as damaged (see Store.damaged).
func (s *Store) openDB(readOnly bool, timeout time.Duration) (*bolt.DB, error) {
	path := s.Path()
	fi, statErr := os.Stat(path)
	if statErr == nil && s.damaged != nil && os.SameFile(fi, s.damaged) {
		return nil, s.damagedErr
	}
	var db *bolt.DB
	var file *os.File
	err := protect(path, s.dir, func() error {
		var err error
		db, err = bolt.Open(path, 0o644, &bolt.Options{
			Timeout: timeout, ReadOnly: readOnly, FreelistType: bolt.FreelistMapType,
			OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				f, err := os.OpenFile(name, flag, perm)
				file = f
				return f, err
			},
		})
		return err
	})
	switch {
	case errors.Is(err, ErrDamaged):
		if file != nil {
			file.Close()
		}
		if statErr == nil {
			s.damaged, s.damagedErr = fi, err
		}
		return nil, err
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %v (clipeval cache prune --all --cache-dir %s starts it empty)", ErrDamaged, path, err, s.dir)
	case err != nil:
		return nil, fmt.Errorf("opening the embedding store %s: %w", path, err)
	}
	return db, nil
}

// locked runs fn holding the store's lock, shared or exclusive.
func (s *Store) locked(exclusive bool, fn func() error) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("embedding store %s: used after Close", s.dir)
	}
	if err := s.openLock(); err != nil {
		return err
	}
	if err := lock(s.lockf, exclusive, s.opts.LockTimeout); err != nil {
		if errors.Is(err, errBusy) {
			return fmt.Errorf("%w: %s has been locked by another process for more than %s (a clipeval cache verify or prune?); wait for it to end, or run with --no-cache",
				ErrBusy, s.dir, s.opts.LockTimeout)
		}
		return fmt.Errorf("embedding store %s: %w", s.dir, err)
	}
	defer func() {
		if uerr := unlock(s.lockf); uerr != nil && err == nil {
			err = uerr
		}
	}()
	return fn()
}

// replaceFile builds a new data file beside the old one (fill, when not nil, writes into it after the buckets are
// made) and renames it over the old one, so that a crash leaves either file whole, never a mix. The caller holds
// the exclusive lock.
func (s *Store) replaceFile(fill func(dst *bolt.DB) error) error {
	tmp := filepath.Join(s.dir, tmpName)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the leftover %s: %w", tmp, err)
	}
	db, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: s.opts.LockTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("creating the embedding store file %s: %w", tmp, err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return initBuckets(tx, tmp) })
	if err == nil && fill != nil {
		err = fill(db)
	}
	if cerr := db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing %s: %w", tmp, cerr)
	}
	if err == nil {
		if err = os.Rename(tmp, s.Path()); err != nil {
			err = fmt.Errorf("replacing the embedding store file: %w", err)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(s.dir)
}

// openLock creates the folder and opens its lock file, again if the one held no longer is the one at the path
// (the folder was removed by hand), so that every process always locks the same file.
func (s *Store) openLock() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("creating the embedding store's folder: %w (pass another --cache-dir, or --no-cache)", err)
	}
	path := filepath.Join(s.dir, LockName)
	if s.lockf != nil {
		held, err1 := s.lockf.Stat()
		there, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, there) {
			return nil
		}
		s.lockf.Close()
		s.lockf = nil
	}
	f, err := openLock(path)
	if err != nil {
		return fmt.Errorf("embedding store %s: %w", s.dir, err)
	}
	s.lockf = f
	return nil
}

// protect runs fn, turning a panic or a memory fault in bbolt (which trusts its pages) into ErrDamaged.
func protect(path, dir string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v (clipeval cache verify --cache-dir %s checks it; clipeval cache prune --all --cache-dir %s starts it empty)",
				ErrDamaged, path, r, dir, dir)
		}
	}()
	return fn()
}

func initBuckets(tx *bolt.Tx, path string) error {
	for _, name := range [][]byte{bucketMeta, bucketModels, bucketInfo} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("embedding store %s: creating bucket %s: %w", path, name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(metaFormat) == nil {
		if err := meta.Put(metaFormat, []byte(formatVersion)); err != nil {
			return fmt.Errorf("embedding store %s: recording the format: %w", path, err)
		}
	}
	return checkFormat(tx, path)
}

// checkFormat refuses a store of another format version.
func checkFormat(tx *bolt.Tx, path string) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil // created by an update that has not run yet: empty
	}
	if v := meta.Get(metaFormat); string(v) != formatVersion {
		return fmt.Errorf("embedding store %s has format %q, this clipeval reads format %q: pass another --cache-dir, or remove it with clipeval cache prune --all",
			path, v, formatVersion)
	}
	return nil
}

// syncDir fsyncs a folder, so that a file created or renamed in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing the embedding store's folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing the embedding store's folder %s: %w", dir, err)
	}
	return nil
}
