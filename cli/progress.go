package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// progress reports long work for every command: on a terminal one bar with
// rate and ETA over the whole job, labelled with the current step and its own
// percentage; otherwise one plain line per finished step with the overall
// percentage and ETA, so logs stay readable. Implements converter.Events.
type progress struct {
	mu        sync.Mutex
	out       io.Writer
	tty       bool
	bar       *progressbar.ProgressBar
	total     int64
	base      int64 // units of finished steps
	label     string
	stepUnits int64
	stepDone  int64
	started   time.Time
	stepStart time.Time
	steps     int
}

func newProgress(quiet bool) *progress {
	p := &progress{out: os.Stderr}
	if quiet {
		p.out = io.Discard
	}
	p.tty = !quiet && isatty.IsTerminal(os.Stderr.Fd())
	return p
}

func (p *progress) Begin(total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.base, p.started = max(total, 1), 0, time.Now()
	if p.tty {
		p.bar = progressbar.NewOptions64(p.total,
			progressbar.OptionSetWriter(p.out),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("weights"),
			progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
}

func (p *progress) Step(label string, units int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.stepUnits, p.stepDone, p.stepStart = label, units, 0, time.Now()
	p.steps++
	p.render()
}

func (p *progress) Progress(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if done > p.stepDone {
		p.stepDone = min(done, p.stepUnits)
		p.render()
	}
}

func (p *progress) EndStep(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total > 0 {
		p.base += p.stepUnits
	}
	p.stepDone = 0
	el := time.Since(p.stepStart)
	line := fmt.Sprintf("%s: %s (%.2fs", p.label, msg, el.Seconds())
	if p.total > 0 { // before Begin (planning) the overall total is not known yet
		line = fmt.Sprintf("[%3.0f%%] ", 100*float64(min(p.base, p.total))/float64(p.total)) + line
	}
	if s := el.Seconds(); s > 0.05 {
		line += fmt.Sprintf(", %.1f Mweights/s", float64(p.stepUnits)/s/1e6)
	}
	line += ")"
	if !p.tty {
		if eta := p.eta(); eta > 0 {
			line += fmt.Sprintf(" ETA %s", eta.Round(time.Second))
		}
		fmt.Fprintln(p.out, line)
		return
	}
	p.render()
}

func (p *progress) eta() time.Duration {
	el := time.Since(p.started)
	if p.base == 0 {
		return 0
	}
	return time.Duration(float64(el) * float64(p.total-p.base) / float64(p.base))
}

func (p *progress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(os.Stderr, "warning:", msg)
}

func (p *progress) render() {
	if p.bar == nil {
		return
	}
	pct := 0.0
	if p.stepUnits > 0 {
		pct = 100 * float64(p.stepDone) / float64(p.stepUnits)
	}
	desc := fmt.Sprintf("%-28.28s %3.0f%%", p.label, pct)
	if el := time.Since(p.stepStart).Seconds(); el > 0.5 && p.stepDone > 0 {
		rate := float64(p.stepDone) / el
		eta := time.Duration(float64(p.stepUnits-p.stepDone) / rate * float64(time.Second))
		desc += fmt.Sprintf(" %5.1fM/s ETA %-6s", rate/1e6, eta.Round(time.Second))
	}
	p.bar.Describe(desc)
	p.bar.Set64(p.base + p.stepDone)
}

// Finish clears the bar.
func (p *progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
