//go:build unix

package gguf

import (
	"errors"
	"syscall"
)

// processGone reports whether no process has this pid: kill(pid, 0) fails
// with ESRCH. EPERM (another user's process) counts as alive.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
