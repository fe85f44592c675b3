//go:build linux

package quant

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
)

func threadCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// BenchmarkCPUNearest reports CPU time per query of the kd-tree search (one
// query, batched) and of brute force, measured on the thread itself, so the
// figures hold while other processes share the cores:
//
//	go test ./quant -run X -bench CPUNearest -benchtime 1x
func BenchmarkCPUNearest(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, c := range []struct{ v, k int }{{4, 256}, {8, 256}, {8, 4096}, {8, 16384}} {
		b.Run(fmt.Sprintf("v=%d/k=%d", c.v, c.k), func(b *testing.B) {
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
			idx, dist := make([]int32, nq), make([]float32, nq)
			var tree1, batch, brute float64
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				t0 := threadCPU()
				for i := 0; i < nq; i++ {
					tree.nearest(&q, qs[i*c.v:i*c.v+c.v], w)
				}
				t1 := threadCPU()
				tree.nearestBatch(qs, w, nil, nil, idx, dist)
				t2 := threadCPU()
				for i := 0; i < nq/10; i++ {
					bruteNearest(lut, c.k, c.v, qs[i*c.v:i*c.v+c.v], w)
				}
				t3 := threadCPU()
				tree1, batch, brute = tree1+t1-t0, batch+t2-t1, brute+t3-t2
			}
			per := float64(b.N) * float64(nq) / 1e9
			b.ReportMetric(tree1/per, "cpu-ns/query")
			b.ReportMetric(batch/per, "batched-cpu-ns/query")
			b.ReportMetric(brute/per*10, "brute-cpu-ns/query")
		})
	}
}
