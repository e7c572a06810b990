//go:build unix

package benchmarks

import (
	"os"
	"syscall"
)

func stopProcess(p *os.Process) error      { return p.Signal(syscall.SIGSTOP) }
func continueProcess(p *os.Process) error  { return p.Signal(syscall.SIGCONT) }
func terminateProcess(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
