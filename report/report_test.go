package report

import (
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/testmodels"
)

func sharedFile(t *testing.T, rel string) string {
	t.Helper()
	p := testmodels.SharedTestdata(rel)
	if p == "" {
		t.Skipf("test data ../shared/testdata/%s absent", rel)
	}
	return p
}

// tinyStudy is one stock type and one PocketGGUF target on stories260K,
// two chunks of 64 tokens, into a temporary folder. Q6_K, not Q8_0: llama.cpp
// refuses Q8_0 of stories260K (rows of 172 weights), which the study notes.
func tinyStudy(t *testing.T) Options {
	dir := t.TempDir()
	return Options{Model: sharedFile(t, "models/stories260K.gguf"), Text: sharedFile(t, "text/tinystories_val_a.txt"),
		Out: filepath.Join(dir, "docs", "RESULTS.md"), WorkDir: filepath.Join(dir, "work"),
		BPW: []float64{4}, Types: []string{"Q6_K", "Q8_0"}, Methods: []string{"kmeans"}, Seed: 1,
		Ctx: 64, Chunks: 2, Threads: 2, Command: "report test", Quiet: true}
}

func TestRunTinyStudy(t *testing.T) {
	opt := tinyStudy(t)
	if err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(opt.Out)
	if err != nil {
		t.Fatal(err)
	}
	// Each row of the table: | method | type<br>mix | bpw | size | PPL | mean KLD | ...
	rows := map[string]float64{}
	for _, line := range strings.Split(string(md), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 9 || !strings.HasPrefix(line, "| llama.cpp |") && !strings.HasPrefix(line, "| PocketGGUF") {
			continue
		}
		kld, err := strconv.ParseFloat(strings.Fields(cells[5])[0], 64)
		if err != nil {
			t.Fatalf("KLD cell %q: %v", cells[5], err)
		}
		rows[strings.TrimPrefix(cells[0], "| ")+" "+strings.Split(cells[1], "<br>")[0]] = kld
	}
	for _, want := range []string{"llama.cpp Q6_K", "PocketGGUF kmeans --bpw 4"} {
		kld, ok := rows[want]
		if !ok {
			t.Errorf("no row %q in\n%s", want, md)
		} else if math.IsNaN(kld) || math.IsInf(kld, 0) || kld < 0 {
			t.Errorf("%s: KLD %g", want, kld)
		}
	}
	if len(rows) != 2 {
		t.Errorf("rows %v, want 2", rows)
	}
	if !strings.Contains(string(md), "\nllama.cpp Q8_0: not produced: ") {
		t.Errorf("no note on the type llama.cpp refused:\n%s", md)
	}
	if !strings.Contains(string(md), "![mean KLD against whole-file bpw](results-kld.png)") {
		t.Errorf("the markdown does not show the plot:\n%s", md)
	}
	f, err := os.Open(filepath.Join(filepath.Dir(opt.Out), "results-kld.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("plot: %v", err)
	}
	var doc eval.ResultsDoc
	js, err := os.ReadFile(filepath.Join(opt.WorkDir, "results.json"))
	if err == nil {
		err = json.Unmarshal(js, &doc)
	}
	if err != nil || len(doc.Rows) != 2 || doc.NCtx != 64 || doc.Chunks != 2 || doc.EvalCommand != "report test" {
		t.Errorf("results.json: %v, %d rows, n_ctx %d, %d chunks, command %q", err, len(doc.Rows), doc.NCtx, doc.Chunks, doc.EvalCommand)
	}
}

// The sensitivity phase alone: a row per tensor kind, layer and all weights.
func TestRunSensitivity(t *testing.T) {
	opt := tinyStudy(t)
	opt.BPW, opt.Types, opt.Methods = nil, nil, nil
	opt.Sensitivity, opt.SensConfigs = true, []SensConfig{{V: 4, K: 16}}
	if err := Run(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(opt.Out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Sensitivity", "v4 K16 (1 bits/w) rel RMSE", "| attn_k |", "| blk.0 (all) |", "| all weights | 99.8% |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("no %q in\n%s", want, md)
		}
	}
}

// A bad input is refused, naming it, before any work: nothing is written.
func TestRunRefusesBadInputFirst(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Options)
		names []string
	}{
		{"missing model", func(o *Options) { o.Model = filepath.Join(t.TempDir(), "missing.gguf") }, []string{"model", "missing.gguf"}},
		{"model not a GGUF", func(o *Options) { o.Model = o.Text }, []string{"model", "tinystories_val_a.txt"}},
		{"bpw not a number", func(o *Options) { o.BPW = []float64{4, math.NaN()} }, []string{"bpw", "NaN"}},
		{"bpw 0", func(o *Options) { o.BPW = []float64{0} }, []string{"bpw"}},
		{"missing text", func(o *Options) { o.Text = "missing.txt" }, []string{"text", "missing.txt"}},
		{"missing calibration", func(o *Options) { o.Calibration = "missing-cal.txt" }, []string{"calibration", "missing-cal.txt"}},
		{"unknown type", func(o *Options) { o.Types = []string{"Q9_9"} }, []string{"types", "Q9_9"}},
		{"unknown method", func(o *Options) { o.Methods = []string{"kmean"} }, []string{"method", "kmean"}},
		{"bad sensitivity config", func(o *Options) { o.Sensitivity, o.SensConfigs = true, []SensConfig{{V: 3, K: 16}} }, []string{"sensitivity", "v3k16"}},
	}
	for _, c := range cases {
		opt := tinyStudy(t)
		c.edit(&opt)
		err := Run(context.Background(), opt)
		for _, n := range c.names {
			if err == nil || !strings.Contains(err.Error(), n) {
				t.Errorf("%s: error %v does not name %q", c.name, err, n)
			}
		}
		if _, err := os.Stat(opt.WorkDir); err == nil {
			t.Errorf("%s: work dir made before the inputs were checked", c.name)
		}
	}
}

func TestParseSensConfigs(t *testing.T) {
	cs, err := ParseSensConfigs(DefaultSensConfigs)
	if err != nil || len(cs) != 4 || cs[3] != (SensConfig{V: 4, K: 256}) || cs[0].Label() != "v2 K16 (2 bits/w)" {
		t.Errorf("%s: %v %v", DefaultSensConfigs, cs, err)
	}
	for _, bad := range []string{"v2", "k16", "v5k16", "v2k1", "v2k70000", "v2k16,"} {
		if _, err := ParseSensConfigs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
