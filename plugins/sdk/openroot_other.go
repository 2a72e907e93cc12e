//go:build !linux

package sdk

import "os"

// openBeneath has no race-free open beneath a folder on this system: the caller falls back to openChecked.
func openBeneath(root, rel string) (*os.File, bool, error) { return nil, false, nil }
