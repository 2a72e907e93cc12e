//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockPoll is how often a waiting process retries a held lock.
const lockPoll = 5 * time.Millisecond

// openLock opens (creating it) the lock file at path. It is never renamed or removed, so every process locks the
// same inode even while the data file beside it is replaced.
func openLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the embedding store's lock file: %w", err)
	}
	return f, nil
}

// lock takes an flock on f, shared or exclusive, retrying until timeout; errBusy when it is still held by then.
// The kernel drops the lock when its holder exits, however it exits (kill -9 included).
func lock(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		case time.Now().After(deadline):
			return errBusy
		}
		time.Sleep(lockPoll)
	}
}

// unlock releases f's flock.
func unlock(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		return fmt.Errorf("unlocking %s: %w", f.Name(), err)
	}
	return nil
}
