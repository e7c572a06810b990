//go:build !linux

package benchmarks

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
