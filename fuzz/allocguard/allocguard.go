// Package allocguard lets fuzz targets assert that parsing an input
// allocates at most a constant factor of its size: a file that claims 2^60
// elements must be refused, not allocated.
package allocguard

import (
	"runtime"
	"testing"
)

// PerByte and Slack bound what one input may allocate: PerByte×len + Slack.
// 64 bytes per input byte covers the worst legitimate expansion (a 1-bit
// PQ index decoded to a float32 weight is 32×, plus Go's slice and map
// overheads); Slack covers fixed buffers (64 KiB reader, a 2 MiB 16-bit LUT).
const (
	PerByte = 64
	Slack   = 8 << 20
)

// allocated is the cumulative heap allocation. ReadMemStats flushes every
// P's allocation cache first; runtime/metrics counts small objects only when
// a cache refills, which charges one input with an earlier one's garbage.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// Check runs f and fails t if it allocated more than PerByte*n + Slack bytes.
func Check(t testing.TB, n int, f func()) {
	t.Helper()
	before := allocated()
	f()
	if got, limit := allocated()-before, uint64(PerByte*n+Slack); got > limit {
		t.Fatalf("an input of %d bytes allocated %d bytes (limit %d)", n, got, limit)
	}
}
