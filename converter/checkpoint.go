package converter

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/pocketgguf/pocketgguf/format"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// checkpoint is the --resume state in OUT.partial/: each trained table and
// each finished tensor (its output bytes, scales and error) in its own file,
// written atomically, under a fingerprint of the input and every option that
// changes the output. A resumed run reuses them and so writes the same bytes
// as an uninterrupted one.
type checkpoint struct {
	dir string
}

type tensorCheckpoint struct {
	Data    []byte
	Scales  []uint16
	RelRMSE float64
	HasRel  bool
	Msg     string
}

// fingerprint identifies the input file and the plan.
func fingerprint(g *gguf.File, opt *Options, plan *Plan) (string, error) {
	st, err := os.Stat(g.Path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "v1 %d %d\n", st.Size(), st.ModTime().UnixNano())
	o := *opt
	o.Events, o.TempCreated, o.Resume = nil, nil, false
	o.Threads = 0 // does not change the output
	o.ImatrixData, o.InputCovariance = nil, nil
	fmt.Fprintf(h, "%+v\n", o)
	hashCovariances(h, opt.InputCovariance)
	if opt.Imatrix != "" {
		// by content: a new imatrix written over the same path must not resume
		if err := hashFile(h, opt.Imatrix); err != nil {
			return "", fmt.Errorf("--imatrix: %w", err)
		}
	}
	names := make([]string, 0, len(opt.ImatrixData))
	for n := range opt.ImatrixData {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "imatrix %s %d\n", n, len(opt.ImatrixData[n]))
		for _, v := range opt.ImatrixData[n] {
			binary.Write(h, binary.LittleEndian, v)
		}
	}
	for _, tp := range plan.Tensors {
		fmt.Fprintf(h, "%s %v %d %v\n", tp.Info.Name, tp.Choice, tp.Group, tp.RowScale)
	}
	for _, gr := range plan.Groups {
		fmt.Fprintf(h, "%s %s %d %v\n", gr.Name, gr.Sharing, gr.K, gr.Members)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(h, f)
	fmt.Fprintf(h, "\nfile %d\n", n)
	return err
}

// openCheckpoint uses dir if it holds state for fp, else starts it afresh.
func openCheckpoint(dir, fp string) (*checkpoint, error) {
	old, err := os.ReadFile(filepath.Join(dir, "fingerprint"))
	if err != nil || string(old) != fp {
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("--resume: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(dir, "fingerprint"), []byte(fp)); err != nil {
			return nil, err
		}
	}
	return &checkpoint{dir: dir}, nil
}

func (c *checkpoint) tablePath(gi int) string {
	return filepath.Join(c.dir, fmt.Sprintf("table-%d.gob", gi))
}
func (c *checkpoint) tensorPath(i int) string {
	return filepath.Join(c.dir, fmt.Sprintf("tensor-%d.gob", i))
}
func (c *checkpoint) saveTable(gi int, tb *format.Table) error { return saveGob(c.tablePath(gi), tb) }
func (c *checkpoint) saveTensor(i int, t *tensorCheckpoint) error {
	return saveGob(c.tensorPath(i), t)
}

// loadTable returns a saved table, or nil when there is none or it is unreadable.
func (c *checkpoint) loadTable(gi int) *format.Table {
	var tb format.Table
	if !loadGob(c.tablePath(gi), &tb) {
		return nil
	}
	return &tb
}

func (c *checkpoint) loadTensor(i int) *tensorCheckpoint {
	var t tensorCheckpoint
	if !loadGob(c.tensorPath(i), &t) {
		return nil
	}
	return &t
}

func (c *checkpoint) remove() { os.RemoveAll(c.dir) }

func saveGob(path string, v any) error {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		return err
	}
	return writeFileAtomic(path, b.Bytes())
}

func loadGob(path string, v any) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	return gob.NewDecoder(bytes.NewReader(b)).Decode(v) == nil
}

func writeFileAtomic(path string, data []byte) error {
	f, err := gguf.CreateAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
