package eval

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// Progress reports chunk progress: a bar with rate and ETA on a terminal,
// a plain line every few seconds and at the end of each pass otherwise.
type Progress struct {
	w     io.Writer
	tty   bool
	label string
	bar   *progressbar.ProgressBar
	pass  string
	start time.Time
	last  time.Time
}

// NewProgress writes to w; quiet discards everything.
func NewProgress(w *os.File, quiet bool) *Progress {
	if quiet {
		return &Progress{w: io.Discard}
	}
	return &Progress{w: w, tty: isatty.IsTerminal(w.Fd())}
}

// SetLabel names what is being evaluated (a file name) in the lines.
func (p *Progress) SetLabel(s string) { p.label = s }

// Chunk is an Options.Progress callback.
func (p *Progress) Chunk(pass string, done, total int) {
	now := time.Now()
	if pass != p.pass || done == 1 {
		p.pass, p.start, p.last = pass, now, now
		if p.tty {
			p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(p.label+" "+pass), progressbar.OptionShowCount(),
				progressbar.OptionSetItsString("chunks"), progressbar.OptionShowIts(),
				progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
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
	if done == total || now.Sub(p.last) >= 5*time.Second {
		el := now.Sub(p.start).Seconds()
		rate := float64(done) / max(el, 1e-9)
		eta := time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(p.w, "%s %s: chunk %d/%d, %.1f chunks/s, ETA %s\n", p.label, p.pass, done, total, rate, eta)
		p.last = now
	}
}

// Printf prints a status line (a stage of a longer job).
func (p *Progress) Printf(format string, a ...any) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format+"\n", a...)
}
