// Package allocguard lets fuzz targets assert that parsing an input
// allocates at most a constant factor of its size: a file that claims 2^60
// elements must be refused, not allocated.
package allocguard

import (
	"runtime/metrics"
	"testing"
)

// PerByte and Slack bound what one input may allocate: PerByte×len + Slack.
// 64 bytes per input byte covers the worst legitimate expansion (a 1-bit
// PQ index decoded to a float32 weight is 32×, plus Go's slice and map
// overheads); Slack covers fixed buffers (64 KiB reader, a 2 MiB 16-bit
// LUT) and the runtime's lag in counting small objects (it counts them when
// a per-P cache span is refilled, so up to about one span per size class,
// ~1 MiB, of an earlier input's garbage can land on this one).
const (
	PerByte = 64
	Slack   = 8 << 20
)

// runtime/metrics rather than ReadMemStats: it does not stop the world, so
// fuzzing keeps its speed (ReadMemStats cut it about tenfold).
var sample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

func allocated() uint64 {
	metrics.Read(sample)
	return sample[0].Value.Uint64()
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
