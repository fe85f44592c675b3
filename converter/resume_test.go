package converter

import (
	"bytes"
	"context"
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

func TestResumeGivesIdenticalBytes(t *testing.T) {
	dir := t.TempDir()
	in := tinyModel(t, dir)
	opt := Options{Seed: 5, Sharing: "tensor", Epochs: 3, CodebookSize: 64}
	ref := filepath.Join(dir, "ref.gguf")
	convert(t, in, ref, opt)

	out := filepath.Join(dir, "out.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	ev := &cancelAfter{n: 20, cancel: cancel} // 14 tables, then 6 tensors
	o := opt
	o.Resume, o.Events = true, ev
	if _, err := Convert(ctx, in, out, o); err == nil {
		t.Fatal("cancelled run succeeded")
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("cancelled run left an output")
	}
	if _, err := os.Stat(out + ".partial"); err != nil {
		t.Fatal("no checkpoint directory after the interrupted run")
	}
	ev2 := &cancelAfter{n: -1}
	o.Events = ev2
	if _, err := Convert(context.Background(), in, out, o); err != nil {
		t.Fatal(err)
	}
	reused := 0
	for _, m := range ev2.msgs {
		if strings.Contains(m, ".partial") {
			reused++
		}
	}
	if reused < 15 {
		t.Fatalf("resumed run reused %d checkpoints, want the 14 tables and at least 1 tensor", reused)
	}
	if !bytes.Equal(fileBytes(t, ref), fileBytes(t, out)) {
		t.Fatal("resumed output differs from an uninterrupted conversion")
	}
	if _, err := os.Stat(out + ".partial"); err == nil {
		t.Fatal("checkpoint directory left after success")
	}
}
