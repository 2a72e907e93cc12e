package sdk

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openBeneath opens rel beneath the folder root with openat2(RESOLVE_BENEATH): no component may leave root, by
// "..", an absolute link or a link to outside. ok is false when the caller must fall back to openChecked: openat2
// is missing (Linux before 5.6, or filtered) or refused a link it cannot follow beneath root (EXDEV: an absolute
// link, which may still lead inside root).
func openBeneath(root, rel string) (f *os.File, ok bool, err error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS})
	switch {
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM), errors.Is(err, unix.EXDEV), errors.Is(err, unix.EAGAIN):
		return nil, false, nil
	case err != nil:
		return nil, true, &os.PathError{Op: "open", Path: root + string(os.PathSeparator) + rel, Err: err}
	}
	f = os.NewFile(uintptr(fd), root+string(os.PathSeparator)+rel)
	if f == nil {
		return nil, true, fmt.Errorf("opening %s: invalid descriptor", rel)
	}
	return f, true, nil
}
