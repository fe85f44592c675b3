package gguf

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// AtomicFile is an output file written under a temporary name in the target's
// directory and renamed over the target only by Commit, so an error or an
// interrupt never leaves a partial file under the user's name.
type AtomicFile struct {
	*os.File
	target string
	done   bool
}

// CreateAtomic opens a temporary file beside path, named
// .NAME.tmp-PID-RANDOM, after removing the temporary files for path that
// processes which no longer exist left behind (a SIGKILL gives no chance
// to clean up; see removeStaleTemps).
func CreateAtomic(path string) (*AtomicFile, error) {
	dir := filepath.Dir(path)
	removeStaleTemps(dir, filepath.Base(path))
	f, err := os.CreateTemp(dir, fmt.Sprintf(".%s.tmp-%d-*", filepath.Base(path), os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("creating output beside %s: %w", path, err)
	}
	f.Chmod(0o644) // CreateTemp makes 0600; outputs are ordinary model files
	return &AtomicFile{File: f, target: path}, nil
}

// Commit fsyncs, closes and renames the file to its target.
func (a *AtomicFile) Commit() error {
	if err := a.Sync(); err != nil {
		a.Abort()
		return fmt.Errorf("%s: %w", a.target, err)
	}
	if err := a.Close(); err != nil {
		a.Abort()
		return fmt.Errorf("%s: %w", a.target, err)
	}
	if err := os.Rename(a.Name(), a.target); err != nil {
		os.Remove(a.Name())
		return fmt.Errorf("%s: %w", a.target, err)
	}
	a.done = true
	if d, err := os.Open(filepath.Dir(a.target)); err == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return nil
}

// Abort removes the temporary file; safe to call after Commit (no-op).
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.Close()
	os.Remove(a.Name())
}

// removeStaleTemps removes dir/.NAME.tmp-PID-* files whose PID names no
// running process. A live process's file is kept, whoever owns it; so is
// any name without a PID (written before the PID was part of the name).
// Best effort: errors are ignored, the new temporary file does not need it.
func removeStaleTemps(dir, name string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := "." + name + ".tmp-"
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if processGone(pid) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
