package eval

import (
	"math"
	"sort"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.10g, want %.10g (tol %g)", what, got, want, tol)
	}
}

func TestPercentileAndMedian(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	near(t, "p50", percentile(x, 0.5), 5, 0)
	near(t, "p99", percentile(x, 0.99), 9.9, 1e-12)
	near(t, "p0", percentile(x, 0), 0, 0)
	near(t, "p100", percentile(x, 1), 10, 0)
	near(t, "median odd", median(x), 5, 0)
	near(t, "median even", median([]float64{1, 2, 4, 8}), 3, 0)
}

func TestMeanErrIsStandardErrorOfMean(t *testing.T) {
	var s, s2 float64
	n := 20
	for i := 1; i <= n; i++ {
		s += float64(i)
		s2 += float64(i * i)
	}
	m := meanErr(s, s2, n)
	// population variance of 1..20 is (n²−1)/12; SE = sqrt(var/(n−1)).
	near(t, "mean", m.Val, 10.5, 1e-12)
	near(t, "err", m.Err, math.Sqrt((float64(n*n)-1)/12/float64(n-1)), 1e-12)
	if meanErr(s, s2, 10).Err != 0 {
		t.Error("ten values or fewer must give no error estimate, as perplexity.cpp")
	}
}

// KLD(uniform ‖ q) where q puts logit a on token 0 and 0 elsewhere has the
// closed form log Z − log V − a/V with Z = e^a + V − 1.
func TestScoreClosedForm(t *testing.T) {
	const nv = 8
	for _, a := range []float64{0, 0.5, 3, -2} {
		base := make([]float32, nv)
		logp := make([]float32, nv)
		logSoftmax(logp, base)
		test := make([]float32, nv)
		test[0] = float32(a)
		z := math.Exp(a) + nv - 1
		p := scorePosition(logp, math.Inf(-1), rowMeta{nllBase: math.Log(nv), argmax: 0}, test, 3)
		near(t, "KLD", p.KLD, math.Log(z)-math.Log(nv)-a/nv, 1e-7)
		near(t, "NLL", p.NLL, math.Log(z), 1e-7)
		near(t, "Δp", p.PDiff(), 1/z-1.0/nv, 1e-7)
	}
	// Identical distributions: KLD 0.
	x := []float32{1, -2, 0.5, 3, 3.5, -7}
	logp := make([]float32, len(x))
	am := logSoftmax(logp, x)
	p := scorePosition(logp, math.Inf(-1), rowMeta{nllBase: -float64(logp[2]), argmax: int32(am)}, x, 2)
	near(t, "self KLD", p.KLD, 0, 1e-7)
	if !p.SameTop || am != 4 {
		t.Errorf("same top %v argmax %d", p.SameTop, am)
	}
}

// reference recomputes every figure straight from both sources' logits in
// float64, with two-pass means, so that it shares no code with the driver.
func reference(t *testing.T, base, test *synth, text string, nctx, chunks int) Stats {
	toks, _ := base.Tokenize(text)
	n := min(len(toks)/nctx, chunks)
	first := nctx / 2
	var klds, nll, nllb, pd []float64
	same := 0
	for c := 0; c < n; c++ {
		ch := append([]int32(nil), toks[c*nctx:(c+1)*nctx]...)
		ch[0] = 1
		lb, _ := base.Logits(ch, 0)
		lt, _ := test.Logits(ch, 0)
		for j := first; j < nctx-1; j++ {
			tok := ch[j+1]
			pb := softmax64(lb[j*base.nv : (j+1)*base.nv])
			pt := softmax64(lt[j*base.nv : (j+1)*base.nv])
			var k float64
			ab, at := 0, 0
			for i := range pb {
				k += pb[i] * (math.Log(pb[i]) - math.Log(pt[i]))
				if pb[i] > pb[ab] {
					ab = i
				}
				if pt[i] > pt[at] {
					at = i
				}
			}
			if ab == at {
				same++
			}
			klds = append(klds, k)
			nll = append(nll, -math.Log(pt[tok]))
			nllb = append(nllb, -math.Log(pb[tok]))
			pd = append(pd, pt[tok]-pb[tok])
		}
	}
	cnt := len(klds)
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	se := func(x []float64) float64 {
		m, s := mean(x), 0.0
		for _, v := range x {
			s += (v - m) * (v - m)
		}
		return math.Sqrt(s / float64(len(x)) / float64(len(x)-1))
	}
	var s Stats
	s.Count = cnt
	s.PPL = ValErr{math.Exp(mean(nll)), math.Exp(mean(nll)) * se(nll)}
	s.PPLBase = ValErr{math.Exp(mean(nllb)), math.Exp(mean(nllb)) * se(nllb)}
	s.KLD = ValErr{mean(klds), se(klds)}
	sorted := append([]float64(nil), klds...)
	sort.Float64s(sorted)
	s.KLDMax = sorted[cnt-1]
	s.KLDP99 = percentile(sorted, 0.99)
	s.KLDMedian = median(sorted)
	sq := make([]float64, cnt)
	for i, d := range pd {
		sq[i] = d * d
	}
	s.RMSDeltaP.Val = math.Sqrt(mean(sq))
	p := float64(same) / float64(cnt)
	s.SameTop = ValErr{p, math.Sqrt(p * (1 - p) / float64(cnt-1))}
	return s
}

func softmax64(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	out := make([]float64, len(x))
	s := 0.0
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func compareToReference(t *testing.T, got, want Stats, tol float64) {
	t.Helper()
	if got.Count != want.Count {
		t.Fatalf("count %d, want %d", got.Count, want.Count)
	}
	near(t, "PPL", got.PPL.Val, want.PPL.Val, 1e-9)
	near(t, "PPL err", got.PPL.Err, want.PPL.Err, 1e-6)
	near(t, "PPL(base)", got.PPLBase.Val, want.PPLBase.Val, 1e-9)
	near(t, "PPL(base) err", got.PPLBase.Err, want.PPLBase.Err, 1e-6)
	near(t, "mean KLD", got.KLD.Val, want.KLD.Val, tol)
	near(t, "KLD err", got.KLD.Err, want.KLD.Err, tol)
	near(t, "KLD max", got.KLDMax, want.KLDMax, tol)
	near(t, "KLD p99", got.KLDP99, want.KLDP99, tol)
	near(t, "KLD median", got.KLDMedian, want.KLDMedian, tol)
	near(t, "RMS Δp", got.RMSDeltaP.Val, want.RMSDeltaP.Val, 1e-9)
	near(t, "same top", got.SameTop.Val, want.SameTop.Val, 0)
	near(t, "same top err", got.SameTop.Err, want.SameTop.Err, 1e-12)
}

func runCompare(t *testing.T, base, test *synth, text string, opt Options) Stats {
	t.Helper()
	b, err := ComputeBase(base, text, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := b.Compare(test, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompareMatchesFloat64Reference(t *testing.T) {
	text := synthText(3000)
	for _, noise := range []float64{0.05, 0.5, 2} {
		base := &synth{nv: 61, scale: 2}
		test := &synth{nv: 61, scale: 2, noise: noise}
		want := reference(t, base, test, text, 64, 20)
		got := runCompare(t, base, test, text, Options{NCtx: 64, Chunks: 20})
		if got.KLD.Val <= 0 {
			t.Fatalf("noise %g: mean KLD %g must be positive", noise, got.KLD.Val)
		}
		compareToReference(t, got, want, 1e-5)
	}
}

func TestSelfCompareIsZero(t *testing.T) {
	text := synthText(3000)
	s := runCompare(t, &synth{nv: 512, scale: 3}, &synth{nv: 512, scale: 3}, text, Options{NCtx: 128})
	if math.Abs(s.KLD.Val) > 1e-6 || math.Abs(s.KLDMax) > 1e-6 {
		t.Errorf("self KLD mean %g max %g", s.KLD.Val, s.KLDMax)
	}
	if s.SameTop.Val != 1 || s.PPL.Val != s.PPLBase.Val || s.RMSDeltaP.Val > 1e-6 {
		t.Errorf("self: same top %g, PPL %g vs %g, RMS Δp %g", s.SameTop.Val, s.PPL.Val, s.PPLBase.Val, s.RMSDeltaP.Val)
	}
}

// The u16 kld-file encoding loses up to 16/65535 per logit; its KLD must
// stay close to the exact one, and spilling to a file must not change it.
func TestU16AndFileStore(t *testing.T) {
	text := synthText(3000)
	base := &synth{nv: 97, scale: 2}
	test := &synth{nv: 97, scale: 2, noise: 0.5}
	want := reference(t, base, test, text, 64, 100)
	u16 := EncU16
	mem := runCompare(t, base, test, text, Options{NCtx: 64, Encoding: &u16})
	file := runCompare(t, base, test, text, Options{NCtx: 64, Encoding: &u16, MaxBaseBytes: 1000})
	if mem != file {
		t.Errorf("file-backed store differs from memory:\n%+v\n%+v", file, mem)
	}
	compareToReference(t, mem, want, 2e-3)
	f32 := EncF32
	f32file := runCompare(t, base, test, text, Options{NCtx: 64, MaxBaseBytes: 1000, Encoding: &f32})
	compareToReference(t, f32file, want, 1e-5)
	// Without a forced encoding, a base that does not fit as f32 goes u16.
	b, _ := ComputeBase(base, text, Options{NCtx: 64, MaxBaseBytes: 1000})
	if b.Encoding() != EncU16 || b.store.file == nil {
		t.Errorf("over budget: encoding %v, file %v", b.Encoding(), b.store.file != nil)
	}
	b.Close()
}
