// Package progress is how long work reports itself: one interface, Events,
// that the converter and unpack take, and one implementation for people,
// Terminal: a bar with rate and ETA on a terminal, plain lines in logs.
// Terminal also renders passes over chunks (evaluation, calibration) whose
// leaf code takes a func(done, total int) callback (Terminal.Chunk).
package progress

// Events receives the progress of a job made of steps. Units (weights, for
// the converter) measure the whole job and each step.
type Events interface {
	Begin(totalUnits int64)
	Step(label string, units int64)
	Progress(stepDone int64)
	EndStep(msg string)
	Warn(msg string)
}

// Nop discards everything.
type Nop struct{}

func (Nop) Begin(int64)        {}
func (Nop) Step(string, int64) {}
func (Nop) Progress(int64)     {}
func (Nop) EndStep(string)     {}
func (Nop) Warn(string)        {}

// Or is ev, or Nop when ev is nil.
func Or(ev Events) Events {
	if ev == nil {
		return Nop{}
	}
	return ev
}
