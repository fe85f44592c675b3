package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// Terminal reports on a terminal with one bar, labelled with the current step
// or pass, with rate and ETA; elsewhere with plain lines (one per finished
// step, or one every few seconds and at the end of each pass), so logs stay
// readable. It implements Events. Safe for concurrent use.
type Terminal struct {
	mu   sync.Mutex
	out  io.Writer // io.Discard when quiet
	warn io.Writer // warnings are printed even when quiet
	tty  bool
	bar  *progressbar.ProgressBar

	// steps (Events)
	total     int64
	base      int64 // units of finished steps
	label     string
	stepUnits int64
	stepDone  int64
	started   time.Time
	stepStart time.Time
	steps     int

	// passes (Chunk)
	passLabel string
	pass      string
	passStart time.Time
	passLast  time.Time
}

// New writes to w; quiet discards everything but warnings.
func New(w *os.File, quiet bool) *Terminal {
	p := &Terminal{out: w, warn: w}
	if quiet {
		p.out = io.Discard
	}
	p.tty = !quiet && isatty.IsTerminal(w.Fd())
	return p
}

// newBar is the one bar style: count, rate, ETA, 30 columns, cleared when done.
func (p *Terminal) newBar(total int64, its string, extra ...progressbar.Option) *progressbar.ProgressBar {
	opts := append([]progressbar.Option{
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString(its),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
	}, extra...)
	opts = append(opts,
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())
	return progressbar.NewOptions64(total, opts...)
}

func (p *Terminal) Begin(total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.base, p.started = max(total, 1), 0, time.Now()
	if p.tty {
		p.bar = p.newBar(p.total, "weights", progressbar.OptionSetElapsedTime(true))
	}
}

func (p *Terminal) Step(label string, units int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.stepUnits, p.stepDone, p.stepStart = label, units, 0, time.Now()
	p.steps++
	p.render()
}

func (p *Terminal) Progress(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if done > p.stepDone {
		p.stepDone = min(done, p.stepUnits)
		p.render()
	}
}

func (p *Terminal) EndStep(msg string) {
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

func (p *Terminal) eta() time.Duration {
	el := time.Since(p.started)
	if p.base == 0 {
		return 0
	}
	return time.Duration(float64(el) * float64(p.total-p.base) / float64(p.base))
}

func (p *Terminal) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.warn, "warning:", msg)
}

func (p *Terminal) render() {
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
func (p *Terminal) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}

// SetLabel names what a pass runs over (a file name) in its lines.
func (p *Terminal) SetLabel(s string) {
	p.mu.Lock()
	p.passLabel = s
	p.mu.Unlock()
}

// Chunk reports done of total chunks of the named pass; as a closure it is
// the func(done, total int) callback of eval.Options and calib/llamacalib.
func (p *Terminal) Chunk(pass string, done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if pass != p.pass || done == 1 {
		p.pass, p.passStart, p.passLast = pass, now, now
		if p.tty {
			p.bar = p.newBar(int64(total), "chunks", progressbar.OptionSetDescription(p.passLabel+" "+pass))
		}
	}
	if p.bar != nil {
		p.bar.Set(done)
		if done == total {
			p.bar.Finish()
			p.bar = nil
		}
		return
	}
	if done == total || now.Sub(p.passLast) >= 5*time.Second {
		el := now.Sub(p.passStart).Seconds()
		rate := float64(done) / max(el, 1e-9)
		eta := time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(p.out, "%s %s: chunk %d/%d, %.1f chunks/s, ETA %s\n", p.passLabel, p.pass, done, total, rate, eta)
		p.passLast = now
	}
}

// Printf prints a status line (a stage of a longer job).
func (p *Terminal) Printf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.out, format+"\n", a...)
}
