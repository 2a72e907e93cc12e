//go:build !linux

package pluginhost

import "os/exec"

// endWithParent does nothing outside Linux, which has no parent-death signal: there the SDK's serving side ends a
// plugin whose harness is gone (sdk.ServeModel, sdk.ServeTask).
func endWithParent(*exec.Cmd) {}
