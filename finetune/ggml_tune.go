package finetune

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/pocketgguf/pocketgguf/bridge"
)

// Engines: where the forward and backward passes run.
const (
	EngineGGML = "ggml" // ggml's compute graph (bridge.Trainer), the default
	EngineGo   = "go"   // the plain-Go pass, kept as the reference
)

// checkSeqs refuses what neither engine can train on.
func checkSeqs(c Config, seqs [][]int32) error {
	if len(seqs) == 0 {
		return fmt.Errorf("fine-tuning needs at least one token sequence")
	}
	for si, s := range seqs {
		if len(s) < 2 {
			return fmt.Errorf("fine-tuning sequence %d has %d tokens (want at least 2)", si, len(s))
		}
		for _, t := range s {
			if t < 0 || int(t) >= c.Vocab {
				return fmt.Errorf("fine-tuning sequence %d: token %d outside the vocabulary of %d", si, t, c.Vocab)
			}
		}
	}
	return nil
}

// exactTeacherBytes is the most the teacher may take (8 bytes per entry) to
// be kept whole by default.
const exactTeacherBytes = 256 << 20

// ggmlTuner is one run's state on the ggml engine.
type ggmlTuner struct {
	e       *ggmlEngine
	seqs    [][]int32
	teacher []*bridge.Teacher
	threads int
}

// byLength splits ids into runs of sequences of one length (one graph each).
func (tu *ggmlTuner) byLength(ids []int) [][]int {
	var out [][]int
	for _, i := range ids {
		j := slices.IndexFunc(out, func(g []int) bool { return len(tu.seqs[g[0]]) == len(tu.seqs[i]) })
		if j < 0 {
			out = append(out, []int{i})
		} else {
			out[j] = append(out[j], i)
		}
	}
	return out
}

func (tu *ggmlTuner) eval(ids []int, scale float32, grad bool) (float64, error) {
	var kl float64
	groups := tu.byLength(ids)
	if grad && len(groups) > 1 {
		tu.e.keepDenseGrads() // summed over the graphs; one graph's stay in the trainer
	}
	for gi, g := range groups {
		seqs, te := make([][]int32, len(g)), make([]*bridge.Teacher, len(g))
		for j, i := range g {
			seqs[j], te[j] = tu.seqs[i], tu.teacher[i]
		}
		x, err := tu.e.run(seqs, te, scale, grad, gi == 0)
		if err != nil {
			return 0, err
		}
		kl += x
	}
	return kl, nil
}

// heldKL is the mean per-token KL on sequences ids; held-out batches are the
// training batch size, so they fit the memory a step needs.
func (tu *ggmlTuner) heldKL(ids []int, batch int) (float64, error) {
	var sum float64
	tokens := 0
	for b := 0; b < len(ids); b += batch {
		part := ids[b:min(b+batch, len(ids))]
		kl, err := tu.eval(part, 0, false)
		if err != nil {
			return 0, err
		}
		sum += kl
		for _, i := range part {
			tokens += len(tu.seqs[i])
		}
	}
	return sum / float64(tokens), nil
}

// step is tuner.step on the ggml engine: gradient of the batch's mean KL,
// one Adam step, the straight-through index step, and the new values uploaded.
func (tu *ggmlTuner) step(batch []int, opt *adam, mult float64, codes bool) error {
	tokens := 0
	for _, i := range batch {
		tokens += len(tu.seqs[i])
	}
	if _, err := tu.eval(batch, float32(1/float64(tokens)), true); err != nil {
		return err
	}
	m := tu.e.m
	m.codebookGrads()
	opt.update(mult)
	m.refreshLUTs()
	if codes {
		parallelFor(len(m.tensors), tu.threads, func(i int) { m.tensors[i].reassign() })
	}
	tu.e.upload(codes)
	return nil
}

// tuneGGML is tune on the ggml engine, with the teacher's top-k (o.TopK)
// from teach; it leaves m at its best state, materialized.
func tuneGGML(ctx context.Context, c Config, teach teacherFunc, m *pqModel, seqs [][]int32, o Options, stored storedAs) (*Report, error) {
	if err := checkSeqs(c, seqs); err != nil {
		return nil, err
	}
	o.Batch = max(1, o.Batch)
	// Never more threads than CPUs: ggml's spinning barriers then wait a
	// scheduler tick each (tiny model, 3 threads on 2 CPUs: 68 s, 1 thread 0.3 s).
	threads := min(max(1, o.Threads), runtime.NumCPU())
	k := o.TopK
	if k <= 0 {
		k = DefaultTopK
		// The whole distribution (exact KL, as the Go engine) when it is small.
		tokens := 0
		for _, s := range seqs {
			tokens += len(s)
		}
		if int64(tokens)*int64(c.Vocab)*8 <= exactTeacherBytes {
			k = c.Vocab
		}
	}
	teacher, err := teach(seqs, k, threads)
	if err != nil {
		return nil, err
	}
	for i, te := range teacher {
		if len(te.Rest) != len(seqs[i]) {
			return nil, fmt.Errorf("fine-tuning teacher: sequence %d: %d positions for %d tokens", i, len(te.Rest), len(seqs[i]))
		}
	}
	codes := o.CodeLR > 0
	e, err := newGGMLEngine(c, m, threads, codes)
	if err != nil {
		return nil, err
	}
	defer e.close()
	tu := &ggmlTuner{e: e, seqs: seqs, teacher: teacher, threads: threads}
	if !codes && m.w == nil {
		m.dropIndices() // fixed: the trainer has them
		// Back to the system now: nothing else would collect them before
		// the trainer's compute buffer grows (3.8 GB for a 7B model).
		debug.FreeOSMemory()
	}

	train, held, rep := splitHeldOut(seqs)
	opt := m.optimizer(o, e.gNorm) // the same parameter groups, in the same order, as the Go pass
	if codes {
		for i, t := range m.tensors {
			t.initShadow()
			opt.addFrom(t.shadow, func(buf []float32) []float32 { return e.denseGrad(i, buf) }, o.CodeLR)
		}
	}
	// One thread until the probe has timed both counts.
	probe := &threadProbe{want: threads, use: 1}
	e.tr.SetThreads(1)
	loop := epochLoop{
		name: fmt.Sprintf("finetune (ggml, top-%d teacher)", k),
		round: func() {
			m.roundToStored(stored)
			e.upload(false)
		},
		heldKL: func() (float64, error) { return tu.heldKL(held, o.Batch) },
		before: func(ep int) error {
			return probe.run(ep, e.tr, func() error { _, err := tu.eval(held[:1], 0, false); return err })
		},
		step:    func(batch []int, mult float64) error { return tu.step(batch, opt, mult, codes) },
		restart: func() { e.upload(codes) },
	}
	if rep, err = loop.run(ctx, o, m, seqs, train, held, rep); err != nil {
		return nil, err
	}
	for _, t := range m.tensors {
		t.shadow = nil // m holds the best epoch's indices: the writer needs no shadows
	}
	if o.Log != nil {
		const gib = 1 << 30
		st, cb := e.tr.Bytes()
		line := fmt.Sprintf("finetune (ggml): trainer %.2f GiB of tensors and %.2f GiB of compute buffer", float64(st)/gib, float64(cb)/gib)
		if codes {
			var n int64
			for _, t := range m.tensors {
				n += int64(t.rows * t.cols)
			}
			// f32 shadows and Adam's two moments: 12 bytes per PQ weight.
			line += fmt.Sprintf("; %.2f GiB of shadow weights and their Adam state (--finetune-code-lr 0: none)", float64(12*n)/gib)
		}
		o.Log(line)
	}
	return rep, nil
}

// threadProbe picks the compute thread count by measurement. ggml's CPU
// backend waits at each op's barrier by spinning, and a step has thousands
// of ops, so on cores shared with other jobs more threads can be many times
// slower than one (testmodels small, 4 jobs on 2 cores: 6 s per step on 2
// threads, 1 s on 1; stories260K: 18 s against 1). Epochs 1, 2, 4, 8, ...
// start by timing one held-out sequence's forward pass on the asked-for
// count and on one thread (after an untimed one-thread pass that allocates)
// and run on the faster; none once one thread has won by 3x. A forward pass
// of one sequence costs a small part of a step, which a probing step on a
// losing count would not. Results do not depend on the thread count.
type threadProbe struct {
	want, use int
	settled   bool
}

func (p *threadProbe) run(epoch int, tr *bridge.Trainer, eval func() error) error {
	if p.want == 1 || p.settled || epoch&(epoch-1) != 0 {
		return nil
	}
	timed := func(n int) (time.Duration, error) {
		tr.SetThreads(n)
		t0 := time.Now()
		err := eval()
		return time.Since(t0), err
	}
	if _, err := timed(1); err != nil {
		return err
	}
	tWant, err := timed(p.want)
	if err != nil {
		return err
	}
	tOne, err := timed(1)
	if err != nil {
		return err
	}
	p.use = p.want
	if tOne < tWant {
		p.use = 1
	}
	p.settled = tOne*3 < tWant
	tr.SetThreads(p.use)
	return nil
}
