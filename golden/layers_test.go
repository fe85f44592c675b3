package golden

import (
	gobuild "go/build"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Every package imports only project packages of earlier layers
// (docs/ARCHITECTURE.md, "Layers"): the container knows nothing of the
// codec, the codec nothing of training or conversion, the libraries nothing
// of the command. Within a layer, only the pairs in sameLayer may import
// each other.
func TestLayersImportOnlyBelow(t *testing.T) {
	const mod = "github.com/pocketgguf/pocketgguf/"
	layers := [][]string{
		{"gguf", "progress", "envconfig"},
		{"format", "calib", "bridge"},
		{"quant"},
		{"converter", "eval", "finetune"},
		{"eval/llamasrc", "calib/llamacalib"},
		{"recipe"},
		{"report"},
		{"cli"},
	}
	sameLayer := map[[2]string]bool{
		{"calib/llamacalib", "eval/llamasrc"}: true, // calibration runs the model as evaluation does
	}
	layerOf := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			layerOf[p] = i
		}
	}
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(here))
	for pkg, layer := range layerOf {
		bp, err := gobuild.ImportDir(filepath.Join(root, pkg), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range bp.Imports { // tests may use test tooling (envconfig, fuzz/allocguard)
			dep, isOurs := strings.CutPrefix(imp, mod)
			if !isOurs || dep == pkg {
				continue
			}
			l, known := layerOf[dep]
			if !known {
				t.Errorf("%s imports %s, which is in no layer", pkg, dep)
			} else if l > layer || l == layer && !sameLayer[[2]string{pkg, dep}] {
				t.Errorf("%s (layer %d) imports %s (layer %d)", pkg, layer+1, dep, l+1)
			}
		}
	}
}
