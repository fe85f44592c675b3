package gguf

import (
	"fmt"
	"os"
	"path/filepath"
)

// AtomicFile is an output file written under a temporary name in the target's
// directory and renamed over the target only by Commit, so an error or an
// interrupt never leaves a partial file under the user's name.
type AtomicFile struct {
	*os.File
	target string
	done   bool
}

// CreateAtomic opens a temporary file beside path.
func CreateAtomic(path string) (*AtomicFile, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
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
