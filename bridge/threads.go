package bridge

// #include "native.h"
import "C"

// SetThreads changes the context's compute threads for later decodes.
func (c *Context) SetThreads(n int) error {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	if c.h.c == nil {
		return ErrClosed
	}
	n = max(1, n)
	C.llama_set_n_threads(c.h.c, C.int32_t(n), C.int32_t(n))
	return nil
}
