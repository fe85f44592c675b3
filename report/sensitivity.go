package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/pocketgguf/pocketgguf/eval"
	"github.com/pocketgguf/pocketgguf/eval/llamasrc"
	"github.com/pocketgguf/pocketgguf/gguf"
)

// sensGroup is a set of tensors quantized together.
type sensGroup struct {
	name string
	pat  *regexp.Regexp
}

// sensGroups are each tensor kind, each layer, all but output and all
// weights.
func sensGroups(g *gguf.File) []sensGroup {
	var groups []sensGroup
	for _, k := range []string{"token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
		groups = append(groups, sensGroup{k, regexp.MustCompile(`(^|\.)` + k + `\.weight$`)})
	}
	for l := 0; ; l++ {
		pat := regexp.MustCompile(fmt.Sprintf(`^blk\.%d\.`, l))
		if weights(g, pat) == 0 {
			break
		}
		groups = append(groups, sensGroup{fmt.Sprintf("blk.%d (all)", l), pat})
	}
	return append(groups, sensGroup{"all but output", regexp.MustCompile(`^(blk\.|token_embd\.)`)},
		sensGroup{"all weights", regexp.MustCompile(`\.weight$`)})
}

// weights counts the weights of the 2-D tensors matching pat, the ones
// eval.FakeQuantizeSize quantizes.
func weights(g *gguf.File, pat *regexp.Regexp) int64 {
	var n int64
	for _, t := range g.Tensors {
		if pat.MatchString(t.Name) && len(t.Shape) == 2 {
			n += int64(t.Elements())
		}
	}
	return n
}

// sensitivity measures, for each tensor group alone, the KLD of k-means
// quantization at each of the configured precisions (per-row scales), the
// rest of the model untouched.
func (s *study) sensitivity(ctx context.Context) error {
	info, err := eval.ReadFileInfo(s.opt.Model)
	if err != nil {
		return err
	}
	g, err := gguf.Open(s.opt.Model)
	if err != nil {
		return err
	}
	defer g.Close()
	t := &eval.SensitivityTable{}
	for _, c := range s.opt.SensConfigs {
		t.Configs = append(t.Configs, c.Label())
	}
	for _, grp := range sensGroups(g) {
		n := weights(g, grp.pat)
		if n == 0 {
			continue
		}
		row := eval.SensitivityRow{Group: grp.name, Share: float64(n) / float64(info.Elements)}
		for ci, c := range s.opt.SensConfigs {
			if err := ctx.Err(); err != nil {
				return err
			}
			cell, err := s.sensCell(grp, c, filepath.Join(s.opt.WorkDir, fmt.Sprintf("sens-%d.gguf", ci)), info)
			if err != nil {
				return err
			}
			row.Cells = append(row.Cells, cell)
		}
		t.Rows = append(t.Rows, row)
	}
	s.doc.Sensitivity = t
	return nil
}

// sensCell quantizes one group at one precision into out, evaluates it and
// removes it.
func (s *study) sensCell(grp sensGroup, c SensConfig, out string, info eval.FileInfo) (eval.SensitivityCell, error) {
	s.pr.Printf("sensitivity: %s at %s", grp.name, c.Label())
	errs, size, err := eval.FakeQuantizeSize(s.opt.Model, out, grp.pat, c.quant())
	if err != nil {
		return eval.SensitivityCell{}, fmt.Errorf("sensitivity %s: %w", grp.name, err)
	}
	cell := eval.SensitivityCell{BPW: float64(size) * 8 / float64(info.Elements)}
	for _, e := range errs {
		cell.RelRMSE = max(cell.RelRMSE, e)
	}
	s.pr.SetLabel(grp.name)
	mr, err := llamasrc.CompareFile(s.base, out, s.eval, s.opt.Threads)
	os.Remove(out)
	if err != nil {
		return eval.SensitivityCell{}, err
	}
	cell.Stats = mr.Stats
	st := cell.Stats
	s.pr.Printf("sensitivity: %s at %s: rel RMSE %.3f, mean KLD %.5f, same top-1 %.1f%%", grp.name, c.Label(), cell.RelRMSE, st.KLD.Val, 100*st.SameTop.Val)
	return cell, nil
}
