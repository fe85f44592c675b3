//go:build linux

package quant

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
)

func threadCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// POCKET_CPU=1 go test ./quant -run CPUNearest -v: CPU time per search,
// robust to other processes sharing the cores.
func TestCPUNearest(t *testing.T) {
	if os.Getenv("POCKET_CPU") == "" {
		t.Skip("set POCKET_CPU=1")
	}
	runtime.LockOSThread()
	for _, c := range []struct{ v, k int }{{4, 256}, {8, 256}, {8, 4096}, {8, 16384}} {
		rng := rand.New(rand.NewPCG(1, 1))
		n := 8 * c.k
		s := Samples{V: c.v, X: make([]float32, n*c.v)}
		for i := range s.X {
			s.X[i] = float32(rng.NormFloat64())
		}
		o, _ := Options{Method: MethodKMeans, V: c.v, K: c.k, Epochs: 4, Threads: 1}.resolved()
		lut, _ := kmeans(&s, o, nil)
		tree := newKDTree(lut, c.k, c.v)
		var q kdQuery
		w := ones(c.v)
		nq := 20000
		qs := make([]float32, nq*c.v)
		for i := range qs {
			qs[i] = float32(rng.NormFloat64())
		}
		t0 := threadCPU()
		for i := 0; i < nq; i++ {
			tree.nearest(&q, qs[i*c.v:i*c.v+c.v], w)
		}
		t1 := threadCPU()
		idx, dist := make([]int32, nq), make([]float32, nq)
		tree.nearestBatch(qs, w, nil, nil, idx, dist)
		tb := threadCPU()
		for i := 0; i < nq/10; i++ { // brute force
			bruteNearest(lut, c.k, c.v, qs[i*c.v:i*c.v+c.v], w)
		}
		t2 := threadCPU()
		fmt.Printf("v=%d k=%d: kd-tree %.0f ns, batched %.0f ns, brute %.0f ns CPU per query\n", c.v, c.k, (t1-t0)/float64(nq)*1e9, (tb-t1)/float64(nq)*1e9, (t2-tb)/float64(nq/10)*1e9)
	}
}
