package converter

import (
	"context"
	"sort"
	"testing"

	"github.com/pocketgguf/pocketgguf/gguf"
)

func tensorBits(tp TensorPlan) float64 {
	return float64(tp.Choice.dataBytes(&tp.Info)) * 8 / float64(tp.Info.Elements())
}

// TestAllocatorMeetsTargetAndFavoursOutput: the plan fits --bpw, uses most of
// it, and gives the output head at least the median block weight's bits.
func TestAllocatorMeetsTargetAndFavoursOutput(t *testing.T) {
	dir := t.TempDir()
	g, err := gguf.Open(tinyModel(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, bpw := range []float64{2.5, 3.5, 6} {
		plan, err := MakePlan(context.Background(), g, &Options{BPW: bpw})
		if err != nil {
			t.Fatal(err)
		}
		got := float64(plan.Predicted) * 8 / float64(plan.Elements)
		if got > bpw || got < bpw-0.5 {
			t.Fatalf("--bpw %v: plan predicts %.3f", bpw, got)
		}
		var block []float64
		var out float64
		for _, tp := range plan.Tensors {
			switch {
			case tp.Info.Name == Output:
				out = tensorBits(tp)
			case tp.Class == classWeight:
				block = append(block, tensorBits(tp))
			}
		}
		sort.Float64s(block)
		if med := block[len(block)/2]; out < med {
			t.Fatalf("--bpw %v: output.weight gets %.2f bits, median block weight %.2f", bpw, out, med)
		}
	}
}

func TestSharingFlagIsObeyed(t *testing.T) {
	dir := t.TempDir()
	g, err := gguf.Open(tinyModel(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	want := map[Sharing]int{SharingTensor: 14, SharingKind: 7, SharingModel: 1} // 2 layers x 7 block weights
	for mode, n := range want {
		plan, err := MakePlan(context.Background(), g, &Options{Sharing: mode})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Groups) != n {
			t.Fatalf("--sharing %s: %d tables, want %d", mode, len(plan.Groups), n)
		}
		for _, gr := range plan.Groups {
			if gr.Sharing != mode.String() {
				t.Fatalf("--sharing %s: table %s has sharing %s", mode, gr.Name, gr.Sharing)
			}
		}
	}
}
