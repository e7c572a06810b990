package benchmarks

import "syscall"

// childAttr makes the kernel kill cluster processes if cairnbench dies
// without closing the cluster, so no objnode outlives a crashed run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
