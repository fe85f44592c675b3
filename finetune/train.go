package finetune

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// Options control a fine-tuning run.
type Options struct {
	Epochs int     // passes over the training sequences
	LR     float64 // Adam step relative to each parameter group's RMS
	Batch  int     // sequences per step
	// CodeLR > 0 also moves indices: each PQ weight keeps continuous shadow
	// values, stepped by Adam at CodeLR times the tensor's RMS with the
	// gradient of the weight it rebuilds, and each sub-vector is re-pointed
	// at the LUT entry nearest its shadow after every step.
	CodeLR  float64
	Threads int
	Seed    uint64
	Log     func(line string) // one line per epoch; nil: quiet
	// Engine is EngineGGML ("" too) or EngineGo; TopK is how many teacher
	// tokens per position the ggml engine keeps (0: DefaultTopK).
	Engine string
	TopK   int
}

// DefaultOptions are what `convert --finetune` uses unless told otherwise.
func DefaultOptions() Options {
	return Options{Epochs: 10, LR: 1e-2, Batch: 4, Threads: 2, Seed: 1, CodeLR: 1e-2}
}

// Report says what a run achieved, in mean KL divergence per token on the
// held-out sequences (the original model is the reference).
type Report struct {
	StartKL, BestKL float64
	BestEpoch       int
	Train, Held     int // sequences
	Tokens          int // held-out tokens
}

// String is the report as the commands print it, of a run of epochs epochs.
func (r *Report) String(epochs int) string {
	return fmt.Sprintf("held-out KL %.4f -> %.4f (epoch %d of %d; %d training, %d held-out chunks)",
		r.StartKL, r.BestKL, r.BestEpoch, epochs, r.Train, r.Held)
}

func sortedKeys[M ~map[string]V, V any](m M) []string { return slices.Sorted(maps.Keys(m)) }

// maxTeacherBytes bounds the original model's log-probabilities kept in memory.
const maxTeacherBytes = 4 << 30

// tuner is one run's state.
type tuner struct {
	c         Config
	m         *pqModel
	seqs      [][]int32
	teacher   [][]float32 // per sequence: T x Vocab log-probabilities of the original
	lanes     []*Weights  // one gradient per sequence of a step: thread-count-independent sums
	passes    []map[int]*pass
	threads   int
	normGrads map[string][]float32
	codes     bool // indices follow shadow weights
}

// parallel runs f(i, worker) for i in [0, n) on the tuner's threads.
func (tu *tuner) parallel(n int, f func(i, worker int)) {
	var wg sync.WaitGroup
	workers := min(tu.threads, n)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				f(i, w)
			}
		}(w)
	}
	wg.Wait()
}

func (tu *tuner) pass(worker, T int) *pass {
	p := tu.passes[worker][T]
	if p == nil {
		p = newPass(tu.c, T)
		tu.passes[worker][T] = p
	}
	return p
}

// heldKL is the mean per-token KL of the current model on sequences ids.
func (tu *tuner) heldKL(ids []int) float64 {
	kl := make([]float64, len(ids))
	tokens := 0
	for _, i := range ids {
		tokens += len(tu.seqs[i])
	}
	tu.parallel(len(ids), func(j, w int) {
		s := tu.seqs[ids[j]]
		p := tu.pass(w, len(s))
		p.forward(tu.m.w, s)
		kl[j] = klGrad(p.logits, tu.teacher[ids[j]], len(s), tu.c.Vocab, 0)
	})
	var sum float64
	for _, x := range kl {
		sum += x
	}
	return sum / float64(tokens)
}

// step accumulates the gradient of the mean KL over the batch and updates.
func (tu *tuner) step(batch []int, opt *adam, mult float64) {
	tokens := 0
	for _, i := range batch {
		tokens += len(tu.seqs[i])
	}
	scale := float32(1 / float64(tokens))
	tu.parallel(len(batch), func(j, w int) {
		s := tu.seqs[batch[j]]
		g := tu.lanes[j]
		for _, x := range g.Named() {
			clear(x)
		}
		p := tu.pass(w, len(s))
		p.forward(tu.m.w, s)
		klGrad(p.logits, tu.teacher[batch[j]], len(s), tu.c.Vocab, scale)
		p.backward(tu.m.w, g, s)
	})
	total := tu.lanes[0]
	for _, g := range tu.lanes[1:len(batch)] {
		dst, src := total.Named(), g.Named()
		for n, x := range dst {
			if n == "output.weight" && total.Tied() {
				continue // tied: already summed as token_embd
			}
			axpy(1, src[n], x)
		}
	}
	tu.m.pullGradients(total)
	named := total.Named()
	for _, n := range tu.m.norms {
		copy(tu.normGrads[n], named[n])
	}
	opt.update(mult)
	tu.m.refreshLUTs()
	if tu.codes {
		tu.parallel(len(tu.m.tensors), func(i, _ int) { tu.m.tensors[i].reassign() })
	}
	tu.m.materialize()
}

// tune fine-tunes m against the teacher on seqs and leaves m at its best state.
func tune(ctx context.Context, c Config, teacher *Weights, m *pqModel, seqs [][]int32, o Options, stored storedAs) (*Report, error) {
	if len(seqs) == 0 {
		return nil, fmt.Errorf("fine-tuning needs at least one token sequence")
	}
	for si, s := range seqs {
		if len(s) < 2 {
			return nil, fmt.Errorf("fine-tuning sequence %d has %d tokens (want at least 2)", si, len(s))
		}
		for _, t := range s {
			if t < 0 || int(t) >= c.Vocab {
				return nil, fmt.Errorf("fine-tuning sequence %d: token %d outside the vocabulary of %d", si, t, c.Vocab)
			}
		}
	}
	if m.w == nil {
		return nil, fmt.Errorf("fine-tuning on the Go engine needs the dense model (loadPQModel)")
	}
	o.Batch = max(1, o.Batch)
	tokens := 0
	for _, s := range seqs {
		tokens += len(s)
	}
	if need := int64(tokens) * int64(c.Vocab) * 4; need > maxTeacherBytes {
		return nil, fmt.Errorf("fine-tuning on %d tokens would keep %.1f GiB of the original's distributions over its %d-token vocabulary (limit %d GiB): use fewer or shorter calibration chunks (--calib-chunks, --calib-ctx)",
			tokens, float64(need)/(1<<30), c.Vocab, maxTeacherBytes>>30)
	}
	tu := &tuner{c: c, m: m, seqs: seqs, threads: max(1, o.Threads), teacher: make([][]float32, len(seqs))}
	tu.passes = make([]map[int]*pass, tu.threads)
	for i := range tu.passes {
		tu.passes[i] = map[int]*pass{}
	}
	for range o.Batch {
		tu.lanes = append(tu.lanes, NewWeights(c, m.w.Tied()))
	}
	tu.parallel(len(seqs), func(i, w int) {
		p := tu.pass(w, len(seqs[i]))
		p.forward(teacher, seqs[i])
		tu.teacher[i] = make([]float32, len(seqs[i])*c.Vocab)
		logSoftmax(tu.teacher[i], p.logits, len(seqs[i]), c.Vocab)
	})

	train, held, rep := splitHeldOut(seqs)
	tu.normGrads = map[string][]float32{}
	for _, n := range m.norms {
		tu.normGrads[n] = make([]float32, len(m.normW[n]))
	}
	opt := m.optimizer(o, tu.normGrads)

	if o.CodeLR > 0 {
		tu.codes = true
		grads := tu.lanes[0].Named()
		for _, t := range m.tensors {
			t.initShadow()
			opt.add(t.shadow, grads[t.name], o.CodeLR)
		}
	}
	loop := epochLoop{
		name:   "finetune",
		round:  func() { m.roundToStored(stored) },
		heldKL: func() (float64, error) { return tu.heldKL(held), nil },
		step: func(batch []int, mult float64) error {
			tu.step(batch, opt, mult)
			return nil
		},
	}
	return loop.run(ctx, o, m, seqs, train, held, rep)
}

// epochLoop is what both engines run once set up, told apart by their hooks:
// round (the tuned values to their stored precision, on the engine), the
// held-out KL, an optional start of each epoch, and one Adam step on a batch
// at a multiple of the step size.
type epochLoop struct {
	name   string // the log lines' prefix
	round  func()
	heldKL func() (float64, error)
	before func(epoch int) error // nil: nothing
	step   func(batch []int, mult float64) error
	// restart, after a cycle's end restored the best epoch into m, gives the
	// engine m's values again; nil: the engine reads m directly.
	restart func()
}

// CycleEpochs is the length of one cosine cycle of the step size. Longer
// runs are cycles restarted from the best epoch: one long cosine kept the
// step high for longer and made stories260K's 4 bpw file 35 % worse at 83
// epochs (docs/QUALITY.md).
const CycleEpochs = 30

// run measures the held-out KL before, then runs o.Epochs epochs over
// shuffled batches of train with a cosine-decayed step size, each ended by
// rounding and the held-out KL (endEpoch); it leaves m at the best epoch.
func (l epochLoop) run(ctx context.Context, o Options, m *pqModel, seqs [][]int32, train, held []int, rep *Report) (*Report, error) {
	l.round()
	best := m.snapshot()
	var err error
	if rep.StartKL, err = l.heldKL(); err != nil {
		return nil, err
	}
	rep.BestKL = rep.StartKL
	if o.Log != nil {
		o.Log(fmt.Sprintf("%s: %d training and %d held-out sequences; held-out KL %.4f before", l.name, len(train), len(held), rep.StartKL))
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x66696e65))
	trainTokens := countTokens(seqs, train)
	start := time.Now()
	perEpoch := (len(train) + o.Batch - 1) / o.Batch
	for ep := 1; ep <= o.Epochs; ep++ {
		// The step size decays by a cosine over a cycle of at most
		// CycleEpochs epochs; a longer run restarts from the best epoch so
		// far, so that it never stays at a high step longer than a
		// CycleEpochs run does (whose epochs it repeats exactly).
		first := (ep - 1) / CycleEpochs * CycleEpochs
		if ep > 1 && ep-1 == first {
			m.restore(best)
			m.resetShadows()
			if l.restart != nil {
				l.restart()
			}
			if o.Log != nil {
				kl, err := l.heldKL()
				if err != nil {
					return nil, err
				}
				o.Log(fmt.Sprintf("%s: step size restarted from epoch %d (held-out KL %.6f)", l.name, rep.BestEpoch, kl))
			}
		}
		steps := min(CycleEpochs, o.Epochs-first) * perEpoch
		done := (ep - 1 - first) * perEpoch
		if l.before != nil {
			if err := l.before(ep); err != nil {
				return nil, err
			}
		}
		order := slices.Clone(train)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for b := 0; b < len(order); b += o.Batch {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			mult := 0.5 * (1 + math.Cos(math.Pi*float64(done)/float64(steps)))
			if err := l.step(order[b:min(b+o.Batch, len(order))], mult); err != nil {
				return nil, err
			}
			done++
		}
		l.round()
		kl, err := l.heldKL()
		if err != nil {
			return nil, err
		}
		endEpoch(o, rep, m, &best, ep, kl, trainTokens, start)
	}
	m.restore(best)
	return rep, nil
}

// storedAs says which codebooks and scales the file keeps as f16.
type storedAs struct{ halfCodebook, halfScales map[string]bool }

func readStoredAs(g *gguf.File, m *pqModel) storedAs {
	s := storedAs{map[string]bool{}, map[string]bool{}}
	isHalf := func(key string) bool {
		v, ok := g.KV(key)
		a, isArr := v.Arr()
		return ok && isArr && a.Elem == gguf.ValUint16
	}
	for _, tb := range m.tables {
		s.halfCodebook[tb.name] = isHalf(format.KeyTableCodebook(tb.name))
	}
	for _, t := range m.tensors {
		s.halfScales[t.name] = isHalf(format.KeyTensorScale(t.name))
	}
	return s
}

// splitHeldOut holds every fifth sequence out (all of them when there are fewer than five) to
// choose the epoch that is kept; rep counts both sides.
func splitHeldOut(seqs [][]int32) (train, held []int, rep *Report) {
	for i := range seqs {
		if len(seqs) >= 5 && i%5 == 4 {
			held = append(held, i)
		} else {
			train = append(train, i)
		}
	}
	if len(held) == 0 {
		held = train
	}
	rep = &Report{Train: len(train), Held: len(held), Tokens: countTokens(seqs, held)}
	return train, held, rep
}

// countTokens is the number of tokens in the sequences idx names.
func countTokens(seqs [][]int32, idx []int) int {
	n := 0
	for _, i := range idx {
		n += len(seqs[i])
	}
	return n
}

// optimizer is Adam over the tuned values in the order both engines use: trained codebooks,
// row scales, then the norms (whose gradients normGrads holds, by name).
func (m *pqModel) optimizer(o Options, normGrads map[string][]float32) *adam {
	opt := newAdam()
	for _, tb := range m.tables {
		if tb.train {
			opt.add(tb.tb.Codebook, tb.gCode, o.LR)
		}
	}
	for _, t := range m.tensors {
		if t.scales != nil {
			opt.add(t.scales, t.gScales, o.LR)
		}
	}
	for _, n := range m.norms {
		opt.add(m.normW[n], normGrads[n], o.LR)
	}
	return opt
}

// endEpoch keeps the model of the best held-out KL so far and logs the epoch with its rate and ETA.
func endEpoch(o Options, rep *Report, m *pqModel, best *state, epoch int, kl float64, trainTokens int, start time.Time) {
	mark := ""
	if kl < rep.BestKL {
		rep.BestKL, rep.BestEpoch, *best = kl, epoch, m.snapshot()
		mark = " (best)"
	}
	if o.Log != nil {
		el := time.Since(start)
		eta := time.Duration(float64(el) / float64(epoch) * float64(o.Epochs-epoch))
		o.Log(fmt.Sprintf("finetune: epoch %d/%d: held-out KL %.4f%s  [%.0f tokens/s, %s elapsed, ETA %s]", epoch, o.Epochs, kl, mark,
			float64(epoch*trainTokens)/el.Seconds(), el.Round(time.Second), eta.Round(time.Second)))
	}
}
