package store

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ModelStats describes one model's entries.
type ModelStats struct {
	// Model is the model's fingerprint (ModelFingerprint).
	Model string
	// Label is the name Touch recorded, if any.
	Label string
	// Entries is how many embeddings are stored; Bytes their keys' and values' size.
	Entries int
	Bytes   int64
	// Dim is the width of the first embedding found (0 when there is none).
	Dim int
	// LastUsed is when a run last wrote or touched the model (zero when unknown).
	LastUsed time.Time
}

// Stats describes the whole store.
type Stats struct {
	// Dir is the store's folder, Path its data file, FileBytes the data file's size on disk (freed pages included,
	// which later writes reuse).
	Dir, Path string
	FileBytes int64
	// Models has one element per model, sorted by fingerprint.
	Models []ModelStats
	// Entries and Bytes add up Models.
	Entries int
	Bytes   int64
	// Dropped counts the corrupt entries readers and Verify have deleted over the store's life.
	Dropped uint64
}

// Stats walks the store and describes it.
func (s *Store) Stats() (Stats, error) {
	st := Stats{Dir: s.dir, Path: s.Path()}
	err := s.view(func(tx *bolt.Tx) error {
		st.Dropped = readDropped(tx.Bucket(bucketMeta))
		models := tx.Bucket(bucketModels)
		info := tx.Bucket(bucketInfo)
		if models == nil {
			return nil
		}
		return models.ForEachBucket(func(name []byte) error {
			ms := ModelStats{Model: string(name)}
			if info != nil {
				i := readInfo(info, ms.Model)
				ms.Label, ms.LastUsed = i.Label, i.LastUsed
			}
			c := models.Bucket(name).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				ms.Entries++
				ms.Bytes += int64(len(k) + len(v))
				if ms.Dim == 0 && len(v) >= entryHeader {
					ms.Dim, _ = checkEntry(ms.Model, k, v)
				}
			}
			st.Models = append(st.Models, ms)
			st.Entries += ms.Entries
			st.Bytes += ms.Bytes
			return nil
		})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("embedding store stats: %w", err)
	}
	if fi, err := os.Stat(st.Path); err == nil {
		st.FileBytes = fi.Size()
	}
	slices.SortFunc(st.Models, func(a, b ModelStats) int { return strings.Compare(a.Model, b.Model) })
	return st, nil
}

// Report is what Verify found.
type Report struct {
	// Models and Entries count what was checked.
	Models, Entries int
	// Corrupt counts the entries that failed verification; Verify deleted them, unless the file is Damaged.
	Corrupt int
	// Damaged lists bbolt's own consistency problems (pages, free list), which Verify cannot repair: the file must
	// be started afresh (Prune with All). At most maxDamaged are listed; DamagedTotal counts them all.
	Damaged      []string
	DamagedTotal int
}

// OK reports whether Verify found nothing wrong.
func (r Report) OK() bool { return r.Corrupt == 0 && r.DamagedTotal == 0 }

// maxDamaged bounds the problems a Report lists.
const maxDamaged = 10

// Verify checks every entry's checksum and then the file's structure (bbolt's page and free-list check), deletes
// the entries that fail unless the structure is damaged (then it writes nothing), and reports the counts. It holds
// the exclusive lock throughout: runs wait for it. A walk that faults on a damaged page returns ErrDamaged.
func (s *Store) Verify() (Report, error) {
	var r Report
	err := s.with(true, func(db *bolt.DB) error {
		err := db.Update(func(tx *bolt.Tx) error {
			if err := initBuckets(tx, s.Path()); err != nil {
				return err
			}
			// Walk first, under protect: the walk reads every page a model reaches, so a damaged one panics here,
			// where it is caught, rather than in tx.Check's own goroutine.
			models := tx.Bucket(bucketModels)
			var stray [][]byte // keys in the models bucket that are not model buckets
			bad := make(map[string]badEntries)
			err := models.ForEach(func(name, v []byte) error {
				if v != nil {
					stray = append(stray, slices.Clone(name))
					return nil
				}
				r.Models++
				b := findBad(models.Bucket(name), string(name))
				r.Entries += b.entries
				r.Corrupt += len(b.keys) + len(b.buckets)
				bad[string(name)] = b
				return nil
			})
			if err != nil {
				return err
			}
			r.Corrupt += len(stray)
			for err := range tx.Check() {
				if r.DamagedTotal++; len(r.Damaged) < maxDamaged {
					r.Damaged = append(r.Damaged, err.Error())
				}
			}
			if r.DamagedTotal > 0 {
				return errRollback // writing into a damaged file could spread the damage
			}
			for m, b := range bad {
				if err := b.remove(models.Bucket([]byte(m)), m); err != nil {
					return err
				}
			}
			for _, k := range stray {
				if err := models.Delete(k); err != nil {
					return fmt.Errorf("deleting a stray key: %w", err)
				}
			}
			return addDropped(tx, r.Corrupt)
		})
		if errors.Is(err, errRollback) {
			return nil
		}
		return err
	})
	if err != nil {
		return Report{}, fmt.Errorf("verifying the embedding store: %w", err)
	}
	return r, nil
}

// errRollback ends a write transaction without committing it.
var errRollback = errors.New("rolled back")

// badEntries are what failed verification in one model's bucket.
type badEntries struct {
	entries int      // how many keys the bucket has
	keys    [][]byte // entries that fail their checksum
	buckets [][]byte // nested buckets, which a model's bucket never has
}

// findBad checks every entry of one model's bucket.
func findBad(b *bolt.Bucket, model string) badEntries {
	var bad badEntries
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		bad.entries++
		switch {
		case v == nil:
			bad.buckets = append(bad.buckets, slices.Clone(k))
		default:
			if _, err := checkEntry(model, k, v); err != nil {
				bad.keys = append(bad.keys, slices.Clone(k))
			}
		}
	}
	return bad
}

// remove deletes the bad entries from the model's bucket b.
func (bad badEntries) remove(b *bolt.Bucket, model string) error {
	for _, k := range bad.keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("deleting a corrupt entry of model %s: %w", model, err)
		}
	}
	for _, k := range bad.buckets {
		if err := b.DeleteBucket(k); err != nil {
			return fmt.Errorf("deleting a stray bucket in model %s: %w", model, err)
		}
	}
	return nil
}

// PruneOptions choose what Prune removes: the models in Models, and those not used for UnusedFor (when > 0), or
// everything with All. At least one must be given.
type PruneOptions struct {
	// Models are model fingerprints to remove, exactly as Stats lists them.
	Models []string
	// UnusedFor removes the models whose last use (Put or Touch) is older than this.
	UnusedFor time.Duration
	// All removes every entry: the data file is replaced by an empty one without reading it, which also clears a
	// file Verify reports damaged.
	All bool
}

// PruneReport is what Prune removed.
type PruneReport struct {
	// Models are the fingerprints of the models removed, sorted; with All, every model only when the old file
	// could be read.
	Models []string
	// Entries and Bytes count what was removed (unknown, 0, with All on a file that could not be read).
	Entries int
	Bytes   int64
	// FileBefore and FileAfter are the data file's size before and after.
	FileBefore, FileAfter int64
}

// Prune removes whole models and rewrites the data file without them (to a new file, then renamed over the old
// one), so that the disk space comes back. It holds the exclusive lock throughout.
func (s *Store) Prune(opts PruneOptions) (PruneReport, error) {
	if !opts.All && len(opts.Models) == 0 && opts.UnusedFor <= 0 {
		return PruneReport{}, errors.New("embedding store prune: say what to remove (models, unused for a duration, or all)")
	}
	var r PruneReport
	err := s.locked(true, func() error {
		if fi, err := os.Stat(s.Path()); err == nil {
			r.FileBefore = fi.Size()
		}
		if opts.All {
			if st, err := s.statsUnlocked(); err == nil { // best effort: the file may be damaged, or still mapped
				for _, m := range st.Models {
					r.Models = append(r.Models, m.Model)
				}
				r.Entries, r.Bytes = st.Entries, st.Bytes
			}
			return s.replaceFile(nil)
		}
		if r.FileBefore == 0 {
			return nil
		}
		src, err := s.openDB(true, s.opts.LockTimeout)
		if err != nil {
			return err
		}
		defer src.Close()
		return protect(s.Path(), s.dir, func() error { return s.pruneFrom(src, opts, &r) })
	})
	if err != nil {
		return PruneReport{}, fmt.Errorf("pruning the embedding store: %w", err)
	}
	if fi, err := os.Stat(s.Path()); err == nil {
		r.FileAfter = fi.Size()
	}
	return r, nil
}

// statsTimeout bounds how long Prune with All waits to read the file it replaces: a file whose opening panicked in
// this process stays flocked by bbolt's leftover memory map.
const statsTimeout = 200 * time.Millisecond

// statsUnlocked is Stats' walk for a caller that holds the lock.
func (s *Store) statsUnlocked() (Stats, error) {
	var st Stats
	db, err := s.openDB(true, statsTimeout)
	if err != nil {
		return st, err
	}
	defer db.Close()
	err = protect(s.Path(), s.dir, func() error {
		return db.View(func(tx *bolt.Tx) error {
			models := tx.Bucket(bucketModels)
			if models == nil {
				return nil
			}
			return models.ForEachBucket(func(name []byte) error {
				b := models.Bucket(name)
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					st.Entries++
					st.Bytes += int64(len(k) + len(v))
				}
				st.Models = append(st.Models, ModelStats{Model: string(name)})
				return nil
			})
		})
	})
	return st, err
}

// copyBatch is how many bytes of entries one transaction of a rewrite copies.
const copyBatch = 32 << 20

// pruneFrom selects the models to remove from src and, when there are any, rewrites the store without them.
func (s *Store) pruneFrom(src *bolt.DB, opts PruneOptions, r *PruneReport) error {
	drop := make(map[string]bool)
	for _, m := range opts.Models {
		drop[m] = true
	}
	cutoff := s.opts.Now().Add(-opts.UnusedFor)
	var keep []string
	err := src.View(func(tx *bolt.Tx) error {
		if err := checkFormat(tx, s.Path()); err != nil {
			return err
		}
		models, info := tx.Bucket(bucketModels), tx.Bucket(bucketInfo)
		if models == nil {
			return nil
		}
		return models.ForEachBucket(func(name []byte) error {
			m := string(name)
			if !drop[m] && opts.UnusedFor > 0 && (info == nil || readInfo(info, m).LastUsed.Before(cutoff)) {
				drop[m] = true
			}
			if !drop[m] {
				keep = append(keep, m)
				return nil
			}
			r.Models = append(r.Models, m)
			c := models.Bucket(name).Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				r.Entries++
				r.Bytes += int64(len(k) + len(v))
			}
			return nil
		})
	})
	if err != nil || len(r.Models) == 0 {
		return err
	}
	slices.Sort(r.Models)
	return s.replaceFile(func(dst *bolt.DB) error { return copyModels(src, dst, keep) })
}

// copyModels copies the kept models' entries that verify, their records and the counters from src to dst, in
// transactions of about copyBatch bytes.
func copyModels(src, dst *bolt.DB, keep []string) error {
	return src.View(func(stx *bolt.Tx) error {
		dropped := readDropped(stx.Bucket(bucketMeta))
		for _, m := range keep {
			b := stx.Bucket(bucketModels).Bucket([]byte(m))
			c := b.Cursor()
			k, v := c.First()
			for k != nil {
				err := dst.Update(func(dtx *bolt.Tx) error {
					out, err := dtx.Bucket(bucketModels).CreateBucketIfNotExists([]byte(m))
					if err != nil {
						return fmt.Errorf("creating model %s in the new file: %w", m, err)
					}
					for size := 0; k != nil && size < copyBatch; k, v = c.Next() {
						if v == nil {
							continue
						}
						if _, err := checkEntry(m, k, v); err != nil {
							dropped++
							continue
						}
						if err := out.Put(k, v); err != nil {
							return fmt.Errorf("copying an entry of model %s: %w", m, err)
						}
						size += len(k) + len(v)
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		return dst.Update(func(dtx *bolt.Tx) error {
			if stx.Bucket(bucketInfo) != nil {
				for _, m := range keep {
					if v := stx.Bucket(bucketInfo).Get([]byte(m)); v != nil {
						if err := dtx.Bucket(bucketInfo).Put([]byte(m), v); err != nil {
							return fmt.Errorf("copying model %s's record: %w", m, err)
						}
					}
				}
			}
			return addDropped(dtx, int(dropped))
		})
	})
}
