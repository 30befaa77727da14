//go:build unix

package bench

import (
	"syscall"
	"time"
)

// processCPU returns the user and system CPU time the process has used:
// on a shared machine, CPU time per call varies far less between runs
// than calls per second do.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
