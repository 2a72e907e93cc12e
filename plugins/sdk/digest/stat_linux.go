package digest

import (
	"io/fs"
	"syscall"
)

// statID reads the times, device and inode of a stat result.
func statID(st fs.FileInfo) (fileID, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{MtimeNS: s.Mtim.Nano(), CtimeNS: s.Ctim.Nano(), Dev: uint64(s.Dev), Ino: uint64(s.Ino)}, true
}
