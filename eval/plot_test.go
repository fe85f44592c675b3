package eval

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestPlotKLDWritesPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kld.png")
	pts := []PlotPoint{
		{"llama.cpp", 10.4, 0.0008}, {"llama.cpp", 6.1, 0.092}, {"llama.cpp", 7.57, 0.07},
		{"PocketGGUF", 2.5, 0.9}, {"PocketGGUF", 4, 0.05}, {"PocketGGUF", 1.6, 2.1}, {"self", 32, 0},
	}
	if err := PlotKLD(pts, "test", path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 400 || r.Dy() < 250 {
		t.Errorf("image %v too small", r)
	}
	if err := PlotKLD(nil, "x", path); err == nil {
		t.Error("empty plot accepted")
	}
}
