package quant

import "sync"

// reporter serialises Progress calls from worker goroutines, so a caller's
// callback never runs concurrently with itself and done never goes backwards.
type reporter struct {
	mu    sync.Mutex
	fn    Progress
	done  int64
	total int64
}

func newReporter(fn Progress, total int64) *reporter { return &reporter{fn: fn, total: total} }

func (r *reporter) add(d int64) {
	if r == nil || r.fn == nil {
		return
	}
	r.mu.Lock()
	r.done += d
	r.fn(r.done, r.total)
	r.mu.Unlock()
}

// set moves done forward to d (never back).
func (r *reporter) set(d int64) {
	if r == nil || r.fn == nil {
		return
	}
	r.mu.Lock()
	if d > r.done {
		r.done = d
		r.fn(r.done, r.total)
	}
	r.mu.Unlock()
}
