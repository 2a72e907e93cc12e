package pluginhost

import (
	"os/exec"
	"syscall"
)

// endWithParent has the kernel kill the plugin process when the harness dies, however it dies (SIGKILL, the OOM
// killer, a cancelled CI job), so that no plugin outlives it. (The death signal follows the thread that started
// the plugin; Go keeps its threads for the life of the process unless a goroutine locked to one exits, which the
// harness never does.)
func endWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
