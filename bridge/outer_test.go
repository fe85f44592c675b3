package bridge

import (
	"math/rand/v2"
	"testing"
)

// rank1Upper is the reference: one rank-1 update of the upper triangle per row.
func rank1Upper(cov []float64, rows [][]float64, d int) {
	for _, x := range rows {
		for i := 0; i < d; i++ {
			for j := i; j < d; j++ {
				cov[i*d+j] += x[i] * x[j]
			}
		}
	}
}

// The blocked update must give the reference's bits on the upper triangle,
// for widths with and without a partial block, over several calls.
func TestAddOuterUpperMatchesRank1(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 3, 4, 7, 8, 13, 64, 67, 301} {
		want := make([]float64, d*d)
		got := make([]float64, d*d)
		par := make([]float64, d*d)
		for call, n := range []int{1, 5, 32, 3} {
			rows := make([][]float64, n)
			xT := make([]float64, d*n)
			for t := range rows {
				rows[t] = make([]float64, d)
				for i := range rows[t] {
					v := float64(float32(rng.NormFloat64() * 3))
					rows[t][i], xT[i*n+t] = v, v
				}
			}
			rank1Upper(want, rows, d)
			addOuterUpper(got, xT, d, n)
			addOuterUpperParallel(par, xT, d, n)
			for i := 0; i < d; i++ {
				for j := i; j < d; j++ {
					if got[i*d+j] != want[i*d+j] || par[i*d+j] != want[i*d+j] {
						t.Fatalf("d=%d call %d: cov[%d][%d] = %v (on all cores %v), rank-1 updates give %v", d, call, i, j, got[i*d+j], par[i*d+j], want[i*d+j])
					}
				}
			}
		}
	}
}

func BenchmarkCovariance(b *testing.B) {
	const d, n = 768, 256
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([][]float64, n)
	xT := make([]float64, d*n)
	for t := range rows {
		rows[t] = make([]float64, d)
		for i := range rows[t] {
			rows[t][i] = rng.NormFloat64()
			xT[i*n+t] = rows[t][i]
		}
	}
	cov := make([]float64, d*d)
	b.Run("rank1", func(b *testing.B) {
		for b.Loop() {
			rank1Upper(cov, rows, d)
		}
		b.ReportMetric(float64(d*d/2*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFMA/s")
	})
	b.Run("blocked", func(b *testing.B) {
		for b.Loop() {
			addOuterUpper(cov, xT, d, n)
		}
		b.ReportMetric(float64(d*d/2*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFMA/s")
	})
	b.Run("blocked-all-cores", func(b *testing.B) {
		for b.Loop() {
			addOuterUpperParallel(cov, xT, d, n)
		}
		b.ReportMetric(float64(d*d/2*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFMA/s")
	})
}
