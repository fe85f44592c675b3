package finetune

import (
	"fmt"
	"time"

	"github.com/pocketgguf/pocketgguf/bridge"
)

// teacherFunc gives each sequence's top-k teacher.
type teacherFunc func(seqs [][]int32, k, threads int) ([]*bridge.Teacher, error)

// llamaTeacher runs the original model in libllama, one sequence at a time
// from position 0, so the original is never held as float32 here (a 7B
// model's teacher is mapped from its file, in its own types).
func llamaTeacher(origPath string) teacherFunc {
	return func(seqs [][]int32, k, threads int) ([]*bridge.Teacher, error) {
		m, err := bridge.LoadModel(origPath, bridge.ModelParams{UseMmap: true})
		if err != nil {
			return nil, fmt.Errorf("fine-tuning teacher: %w", err)
		}
		defer m.Close()
		T := 0
		for _, s := range seqs {
			T = max(T, len(s))
		}
		ctx, err := m.NewContext(bridge.ContextParams{NCtx: T, NBatch: T, Threads: threads})
		if err != nil {
			return nil, fmt.Errorf("fine-tuning teacher: %w", err)
		}
		defer ctx.Close()
		out := make([]*bridge.Teacher, len(seqs))
		// As the trainer's threadProbe: the first sequence on the asked-for
		// threads, the second on one, the rest on the faster (llama.cpp's
		// barriers spin too, and on shared cores a second thread can lose).
		var took [2]time.Duration
		for i, s := range seqs {
			if err := ctx.ClearMemory(); err != nil {
				return nil, err
			}
			if threads > 1 && i < 3 {
				n := threads
				if i == 1 || (i == 2 && took[1] < took[0]) {
					n = 1
				}
				if err := ctx.SetThreads(n); err != nil {
					return nil, err
				}
			}
			t0 := time.Now()
			logits, err := ctx.Decode(s, true)
			if err != nil {
				return nil, fmt.Errorf("fine-tuning teacher, sequence %d: %w", i, err)
			}
			if i < 2 {
				took[i] = time.Since(t0)
			}
			V := len(logits) / len(s)
			logSoftmax(logits, logits, len(s), V)
			out[i] = topKOf(logits, len(s), V, k)
		}
		return out, nil
	}
}

// goTeacher runs the original model's Go forward pass (the oracle's teacher).
func goTeacher(c Config, w *Weights) teacherFunc {
	return func(seqs [][]int32, k, threads int) ([]*bridge.Teacher, error) {
		out := make([]*bridge.Teacher, len(seqs))
		parallelFor(len(seqs), threads, func(i int) {
			s := seqs[i]
			p := newPass(c, len(s))
			p.forward(w, s)
			logSoftmax(p.logits, p.logits, len(s), c.Vocab)
			out[i] = topKOf(p.logits, len(s), c.Vocab, k)
		})
		return out, nil
	}
}
