package quant

import (
	"sync"
	"sync/atomic"
)

// forChunks calls fn(c, lo, hi) for every chunk c of [0, n) cut into pieces of
// size chunk, on up to threads goroutines. The cut depends only on n and
// chunk, never on threads, so callers that reduce per-chunk results in chunk
// order get the same bits for any thread count.
func forChunks(n, chunk, threads int, fn func(c, lo, hi int)) {
	if n <= 0 {
		return
	}
	nc := (n + chunk - 1) / chunk
	if threads > nc {
		threads = nc
	}
	if threads <= 1 {
		for c := 0; c < nc; c++ {
			fn(c, c*chunk, min(n, (c+1)*chunk))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < threads; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1) - 1)
				if c >= nc {
					return
				}
				fn(c, c*chunk, min(n, (c+1)*chunk))
			}
		}()
	}
	wg.Wait()
}

// numChunks is how many chunks forChunks cuts n into.
func numChunks(n, chunk int) int { return (n + chunk - 1) / chunk }
