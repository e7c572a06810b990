//go:build !unix

package benchmarks

import (
	"errors"
	"os"
)

var errNoSignals = errors.New("benchmarks: pausing processes needs a unix system")

func stopProcess(*os.Process) error        { return errNoSignals }
func continueProcess(*os.Process) error    { return nil }
func terminateProcess(p *os.Process) error { return p.Kill() }
