package recipe

import (
	"strings"

	"github.com/pocketgguf/pocketgguf/finetune"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Shape is what the cost model needs to know about an input model.
type Shape struct {
	Path   string
	Arch   string
	Params int64 // weights in all tensors
	// Bytes is the tensor data as stored (what a decode step streams).
	Bytes int64
	// CovFMA is the multiply-adds per token of the input covariances GPTQ
	// collects: cols²/2 (the upper triangle) for each 2-D block weight at most
	// gptqMaxCols wide, while their float64 sums fit covBudget bytes, as
	// bridge.Imatrix accumulates them.
	CovFMA int64
	// GPTQParams are the weights of those tensors: the ones GPTQ assigns.
	GPTQParams int64
	// Finetune is nil when fine-tuning supports the model, else why not.
	Finetune error
}

// ShapeOf reads a model's shape from its header. gptqMaxCols is convert's
// --gptq-max-cols; the covariances also stop at CovBudget.
func ShapeOf(g *gguf.File, gptqMaxCols int) Shape {
	return shapeOf(g, gptqMaxCols, CovBudget)
}

func shapeOf(g *gguf.File, gptqMaxCols int, covBudget int64) Shape {
	s := Shape{Path: g.Path, Arch: g.KVString("general.architecture")}
	var covBytes int64
	for i := range g.Tensors {
		t := &g.Tensors[i]
		s.Params += int64(t.Elements())
		s.Bytes += int64(t.Size())
		if len(t.Shape) != 2 || !strings.HasPrefix(t.Name, "blk.") {
			continue
		}
		cols := int64(t.Cols())
		if cols > int64(gptqMaxCols) || covBytes+8*cols*cols > covBudget {
			continue
		}
		covBytes += 8 * cols * cols
		s.CovFMA += cols * cols / 2
		s.GPTQParams += int64(t.Elements())
	}
	if _, err := finetune.ReadConfig(g); err != nil {
		s.Finetune = err
	}
	return s
}
