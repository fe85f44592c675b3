package converter

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cancelAfter cancels its context after n finished steps and records messages.
type cancelAfter struct {
	nopEvents
	n      int
	cancel context.CancelFunc
	msgs   []string
}

func (c *cancelAfter) EndStep(msg string) {
	c.msgs = append(c.msgs, msg)
	if len(c.msgs) == c.n {
		c.cancel()
	}
}

// interrupted runs Convert with o and --resume and cancels it after n finished steps.
func interrupted(t *testing.T, in, out string, o Options, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o.Resume, o.Events = true, &cancelAfter{n: n, cancel: cancel}
	if _, err := Convert(ctx, in, out, o); err == nil {
		t.Fatal("cancelled run succeeded")
	}
}

// resumed runs Convert with o and --resume to the end and returns how many of
// its steps say they reused a checkpoint from a folder named like partial.
func resumed(t *testing.T, in, out string, o Options, partial string) int {
	t.Helper()
	ev := &cancelAfter{n: -1}
	o.Resume, o.Events = true, ev
	if _, err := Convert(context.Background(), in, out, o); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ev.msgs {
		if strings.Contains(m, partial) {
			n++
		}
	}
	return n
}

// resumeRef writes the tiny model and its uninterrupted conversion ref with
// the options opt that the resume tests interrupt, all in the folder dir.
func resumeRef(t *testing.T) (dir, in, ref string, opt Options) {
	dir = t.TempDir()
	in = tinyModel(t, dir)
	opt = Options{Seed: 5, Sharing: "tensor", Epochs: 3, CodebookSize: 64}
	ref = filepath.Join(dir, "ref.gguf")
	convert(t, in, ref, opt)
	return dir, in, ref, opt
}

func TestResumeGivesIdenticalBytes(t *testing.T) {
	dir, in, ref, opt := resumeRef(t)

	out := filepath.Join(dir, "out.gguf")
	interrupted(t, in, out, opt, 20) // 14 tables, then 6 tensors
	if _, err := os.Stat(out); err == nil {
		t.Fatal("cancelled run left an output")
	}
	if _, err := os.Stat(out + ".partial"); err != nil {
		t.Fatal("no checkpoint directory after the interrupted run")
	}
	if reused := resumed(t, in, out, opt, ".partial"); reused < 15 {
		t.Fatalf("resumed run reused %d checkpoints, want the 14 tables and at least 1 tensor", reused)
	}
	if !bytes.Equal(fileBytes(t, ref), fileBytes(t, out)) {
		t.Fatal("resumed output differs from an uninterrupted conversion")
	}
	if _, err := os.Stat(out + ".partial"); err == nil {
		t.Fatal("checkpoint directory left after success")
	}
}

// TestResumeRefusesChangedImatrix: --resume must not reuse checkpoints made
// with another importance matrix, even when the new one is written over the
// same path with the same size and modification time.
func TestResumeRefusesChangedImatrix(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	im := filepath.Join(dir, "im.dat")
	writeImatrix(t, im)
	st, err := os.Stat(im)
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Method: "kmeans", Seed: 5, Sharing: "tensor", Epochs: 3, CodebookSize: 64, Imatrix: im}

	out := filepath.Join(dir, "out.gguf")
	interrupted(t, in, out, opt, 20)

	// Same path, same size, same mtime, other statistics: the last 8 columns
	// important instead of the first 8.
	b := fileBytes(t, im)
	for j := 0; j < 64; j++ {
		x := float32(1)
		if j >= 56 {
			x = 100
		}
		binary.LittleEndian.PutUint32(b[len(b)-4*(64-j):], math.Float32bits(x))
	}
	if err := os.WriteFile(im, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(im, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(im); st2.Size() != st.Size() || !st2.ModTime().Equal(st.ModTime()) {
		t.Fatal("test setup: the new imatrix differs in size or mtime")
	}
	if reused := resumed(t, in, out, opt, ".partial"); reused > 0 {
		t.Fatalf("resumed %d steps from checkpoints of the old imatrix", reused)
	}
	ref := filepath.Join(dir, "ref.gguf")
	convert(t, in, ref, opt)
	if !bytes.Equal(fileBytes(t, ref), fileBytes(t, out)) {
		t.Fatal("output differs from a fresh conversion with the new imatrix")
	}
	writeImatrix(t, im)
	old := filepath.Join(dir, "old.gguf")
	convert(t, in, old, opt)
	if bytes.Equal(fileBytes(t, old), fileBytes(t, out)) {
		t.Fatal("test setup: the two imatrix files give the same output")
	}
}

// TestResumeCheckpointFor: with CheckpointFor set (convert --finetune writes
// a scratch file whose name changes each run) the checkpoints live beside
// that name, so a run into another scratch file resumes from them.
func TestResumeCheckpointFor(t *testing.T) {
	dir, in, ref, opt := resumeRef(t)

	final := filepath.Join(dir, "final.gguf")
	o := opt
	o.CheckpointFor = final
	interrupted(t, in, filepath.Join(dir, "scratch-1.gguf"), o, 5)
	if _, err := os.Stat(final + ".partial"); err != nil {
		t.Fatalf("no checkpoint directory beside %s: %v", final, err)
	}
	second := filepath.Join(dir, "scratch-2.gguf")
	if reused := resumed(t, in, second, o, "final.gguf.partial"); reused < 5 {
		t.Errorf("second run reused %d checkpoints, want the 5 saved", reused)
	}
	if !bytes.Equal(fileBytes(t, ref), fileBytes(t, second)) {
		t.Error("resumed output differs from an uninterrupted conversion")
	}
	if _, err := os.Stat(final + ".partial"); err == nil {
		t.Error("checkpoint directory left after success")
	}
}
