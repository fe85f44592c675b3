package converter

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
)

// allocated runs the planner up to allocation and returns it with its choices.
func allocated(t *testing.T, g *gguf.File, opt *Options) (*planner, []Choice, error) {
	t.Helper()
	p, err := newPlanner(g, opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.buildOptions(); err != nil {
		t.Fatal(err)
	}
	if err := p.calibrate(context.Background(), nopEvents{}); err != nil {
		t.Fatal(err)
	}
	choices, err := p.allocate()
	return p, choices, err
}

func estimatedError(p *planner, choices []Choice) float64 {
	var d float64
	for i, c := range choices {
		d += p.distortion(i, c)
	}
	return d
}

// TestLayoutSearchPicksLeastEstimatedError: under --sharing auto and
// --row-scale auto the plan's estimated error is the least of the plans each
// pinned layout gives, and a pinned layout is what the tables get.
func TestLayoutSearchPicksLeastEstimatedError(t *testing.T) {
	g, err := gguf.Open(tinyModel(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, bpw := range []float64{4, 6} {
		p, auto, err := allocated(t, g, &Options{BPW: bpw})
		if err != nil {
			t.Fatal(err)
		}
		got := estimatedError(p, auto)
		least, reached := math.Inf(1), 0
		for _, sh := range []Sharing{SharingTensor, SharingKind, SharingModel} {
			for _, rs := range []RowScale{RowScaleOn, RowScaleOff} {
				q, cs, err := allocated(t, g, &Options{BPW: bpw, Sharing: sh, RowScale: rs})
				if err != nil {
					continue // this layout's tables alone do not fit --bpw
				}
				least = math.Min(least, estimatedError(q, cs))
				reached++
				for _, gr := range q.groups(cs) {
					if gr.Sharing != sh.String() || gr.RowScale != (rs == RowScaleOn) {
						t.Fatalf("--bpw %v --sharing %s --row-scale %s: table %s has sharing %s, row scales %v", bpw, sh, rs, gr.Name, gr.Sharing, gr.RowScale)
					}
				}
			}
		}
		if reached < 2 {
			t.Fatalf("--bpw %v: only %d pinned layouts fit", bpw, reached)
		}
		if got > least*(1+1e-12) {
			t.Fatalf("--bpw %v: auto plan's estimated error %.6g, a pinned layout reaches %.6g", bpw, got, least)
		}
	}
}

// TestSensitiveKindsGetMoreBits: on stories260K, whose sensitivity the table
// was measured on, attn_k gets at least the bits of attn_output and attn_q in
// its layer, and the output head at least those of the token embedding.
func TestSensitiveKindsGetMoreBits(t *testing.T) {
	g, err := gguf.Open(stories(t))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, bpw := range []float64{3, 5} {
		plan, err := MakePlan(context.Background(), g, &Options{BPW: bpw})
		if err != nil {
			t.Fatal(err)
		}
		bits := map[string]float64{}
		for _, tp := range plan.Tensors {
			if tp.Class != classCopy {
				bits[tp.Info.Name] = tensorBits(tp)
			}
		}
		if bits[Output] < bits[TokenEmbd] {
			t.Fatalf("--bpw %v: output.weight %.2f bits < token_embd.weight %.2f", bpw, bits[Output], bits[TokenEmbd])
		}
		for name, b := range bits {
			if !strings.HasSuffix(name, ".attn_k.weight") {
				continue
			}
			for _, other := range []string{"attn_output", "attn_q"} {
				o := strings.Replace(name, "attn_k", other, 1)
				if b < bits[o] {
					t.Fatalf("--bpw %v: %s %.2f bits < %s %.2f", bpw, name, b, o, bits[o])
				}
			}
		}
	}
}

// TestRepairKeepsSizeAndLowersError: on stories260K at 5 bpw the greedy
// leaves a trade (token_embd up, a q8_0 tensor down) that repair takes; its
// result always fits the target and never has more estimated error.
func TestRepairKeepsSizeAndLowersError(t *testing.T) {
	g, err := gguf.Open(stories(t))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	p, auto, err := allocated(t, g, &Options{BPW: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	target := int64(math.Floor(5 * float64(p.elements) / 8))
	cur := make([]int, len(auto))
	for i, c := range auto {
		for j, o := range p.options[i] {
			if o == c {
				cur[i] = j
			}
		}
	}
	// Undo the repair's trade by hand: token_embd back to pq_4x8 K=256.
	for i := range p.tensors {
		if p.tensors[i].Info.Name != TokenEmbd {
			continue
		}
		for j, o := range p.options[i] {
			if o.PQ && o.Type.V == 4 && o.Type.IndexBits == 8 && o.K == 256 {
				cur[i] = j
			}
		}
	}
	before := 0.0
	for i := range cur {
		before += p.distortion(i, p.options[i][cur[i]])
	}
	s := &search{p: p, target: target}
	s.set(cur)
	s.repair()
	got := s.cur
	after := 0.0
	for i := range got {
		after += p.distortion(i, p.options[i][got[i]])
	}
	if s := p.sizeOf(got); s > target {
		t.Fatalf("repair: %d bytes > target %d", s, target)
	}
	if after > before {
		t.Fatalf("repair raised the estimated error: %.4g -> %.4g", before, after)
	}
	if after == before {
		t.Fatalf("repair found no trade (estimated error %.4g)", before)
	}
}

// TestSearchSizeIsExact: the search's size, kept by each move's delta, is
// always the size sizeOf computes afresh for its assignment.
func TestSearchSizeIsExact(t *testing.T) {
	g, err := gguf.Open(tinyModel(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, opt := range []*Options{{BPW: 4}, {BPW: 3, Prefer: PreferSpeed}} {
		p, _, err := allocated(t, g, opt)
		if err != nil {
			t.Fatal(err)
		}
		s := p.newSearch()
		for steps := 0; ; steps++ {
			if got := p.sizeOf(s.cur); s.size != got {
				t.Fatalf("%+v, step %d: search size %d, sizeOf %d", *opt, steps, s.size, got)
			}
			m, ok := s.bestMove()
			if !ok {
				if steps < 5 {
					t.Fatalf("%+v: only %d moves", *opt, steps)
				}
				break
			}
			s.apply(m)
		}
	}
}
