package llamacalib

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/calib"
)

// ImatrixRequest says where the importance matrix of stock llama.cpp
// quantizations (commands baseline and report) comes from.
type ImatrixRequest struct {
	Types  []string // llama-quantize types to make
	File   string   // --imatrix: use this one
	Model  string   // else collect over Text with this model,
	Text   string
	OutDir string // and save it here as <base>.imatrix.dat for reuse
	Calib  Options
}

// ImatrixFor loads --imatrix, or collects one over the calibration text when
// a type needs it.
func ImatrixFor(r ImatrixRequest) (map[string][]float32, error) {
	if r.File != "" {
		return calib.Load(r.File)
	}
	var need []string
	for _, t := range r.Types {
		if bridge.FTypeNeedsImatrix(t) {
			need = append(need, t)
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	if r.Text == "" {
		return nil, fmt.Errorf("%s need an importance matrix: give --imatrix FILE or calibration --text FILE", strings.Join(need, ", "))
	}
	b, err := os.ReadFile(r.Text)
	if err != nil {
		return nil, fmt.Errorf("--text: %w", err)
	}
	im, err := Imatrix(r.Model, string(b), r.Text, r.Calib)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.OutDir, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(r.OutDir, strings.TrimSuffix(filepath.Base(r.Model), ".gguf")+".imatrix.dat")
	if err := calib.WriteDat(p, im); err != nil {
		return nil, err
	}
	r.Calib.Progress.Printf("imatrix: %d weights from %s, saved to %s", len(im), r.Text, p)
	return im, nil
}

// ImatrixOf is the importance matrix type ft is quantized with: the user's
// --imatrix for every type (as llama-quantize --imatrix), one computed here
// only for the types llama.cpp refuses to make without, so that the other
// types stay stock llama.cpp results.
func ImatrixOf(ft string, im map[string][]float32, given bool) map[string][]float32 {
	if given || bridge.FTypeNeedsImatrix(ft) {
		return im
	}
	return nil
}
