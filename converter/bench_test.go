package converter

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pocketgguf/pocketgguf/testmodels"

	"github.com/pocketgguf/pocketgguf/envconfig"
)

// benchConvert generates preset into a temp dir once and converts it b.N
// times, reporting whole-file bpw, ratio to F16 and input weights per second.
func benchConvert(b *testing.B, preset string, opt Options) {
	cfg := testmodels.Presets[preset]
	if v := testmodels.SharedVocab(); v != "" && cfg.Vocab == 32000 {
		cfg.VocabFile = v
	}
	dir := b.TempDir()
	in := filepath.Join(dir, preset+".gguf")
	if err := testmodels.Generate(in, cfg); err != nil {
		b.Fatal(err)
	}
	if m := envconfig.BenchMethod.Value(); m != "" {
		var err error
		if opt.Method, err = ParseMethod(m); err != nil {
			b.Fatal(err)
		}
	}
	if s := envconfig.BenchBPW.Value(); s != "" {
		opt.BPW, _ = strconv.ParseFloat(s, 64)
	}
	out := filepath.Join(dir, "out.gguf")
	b.ResetTimer()
	var res *Result
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var err error
		if res, err = Convert(context.Background(), in, out, opt); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(res.BPW, "bpw")
	b.ReportMetric(res.RatioF16(), "x_smaller_than_f16")
	b.ReportMetric(float64(res.Elements)/el, "weights/s")
	c, err := Compare(in, out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(c.Overall, "rel_rmse")
}

func BenchmarkConvertTiny(b *testing.B) {
	benchConvert(b, "tiny", Options{BPW: 3, Method: "kmeans"})
}

// BenchmarkConvertLlama7B2L: Llama-2-7B layer shapes, 2 layers, 32000-token
// vocabulary (~0.67 G weights, 1.3 GB F16). Long: POCKET_LONG=1.
func BenchmarkConvertLlama7B2L(b *testing.B) {
	if !envconfig.Long.Set() {
		b.Skip("set POCKET_LONG=1 (minutes, about 3 GB of memory)")
	}
	benchConvert(b, "llama7b-2l", Options{BPW: 2.5})
}
