package slurmtest

import (
	"os/exec"
	"syscall"
)

// endWithParent has the kernel kill the daemon when the test process dies however it dies (go test's -timeout
// panic, SIGKILL), when no t.Cleanup runs. (The death signal follows the thread that started the daemon; Go keeps
// its threads for the life of the process unless a goroutine locked to one exits.)
func endWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
