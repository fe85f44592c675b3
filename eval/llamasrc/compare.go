package llamasrc

import (
	"fmt"

	"github.com/pocketgguf/pocketgguf/eval"
)

// ComputeBase loads the base model, runs the base pass over text and frees
// the model.
func ComputeBase(path, text string, opt eval.Options, threads int) (*eval.Base, error) {
	src, err := Open(path, opt.NCtx, threads)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer src.Close()
	b, err := eval.ComputeBase(src, text, opt)
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", path, err)
	}
	return b, nil
}

// CompareFile loads one test model and compares it with the base.
func CompareFile(b *eval.Base, path string, opt eval.Options, threads int) (eval.ModelResult, error) {
	fi, err := eval.ReadFileInfo(path)
	if err != nil {
		return eval.ModelResult{}, fmt.Errorf("%s: %w", path, err)
	}
	src, err := Open(path, b.NCtx, threads)
	if err != nil {
		return eval.ModelResult{}, fmt.Errorf("%s: %w", path, err)
	}
	defer src.Close()
	s, err := b.Compare(src, opt)
	if err != nil {
		return eval.ModelResult{}, fmt.Errorf("model %s: %w", path, err)
	}
	return eval.ModelResult{Model: path, File: &fi, Stats: s}, nil
}
