package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time by the Makefile:
//
//	-ldflags "-X cairn/internal/cli.version=$(git describe) -X cairn/internal/cli.commit=$(git rev-parse HEAD)"
var (
	version = ""
	commit  = ""
)

// Version returns "<command> <version> (commit <commit>, <go version>)".
// Without -ldflags it falls back to the module version and the VCS revision
// the go command stamps into the binary.
func Version(command string) string {
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" && info.Main.Version != "" {
			v = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && c != "" {
			c += "-dirty"
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("%s %s (commit %s, %s)", command, v, c, runtime.Version())
}
