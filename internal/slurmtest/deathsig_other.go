//go:build !linux

package slurmtest

import "os/exec"

// endWithParent does nothing outside Linux, which has no parent-death signal (nor Slurm's daemons as packaged).
func endWithParent(*exec.Cmd) {}
