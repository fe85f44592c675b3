package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/pocketgguf/pocketgguf/bridge"
	"github.com/pocketgguf/pocketgguf/gguf"
	"github.com/pocketgguf/pocketgguf/quant"
)

// DefaultSensConfigs are the sensitivity table's precisions unless told.
const DefaultSensConfigs = "v2k16,v4k16,v2k256,v4k256"

// SensConfig is one precision of the sensitivity table: per-tensor k-means
// tables of K entries over sub-vectors of V weights, with per-row scales.
type SensConfig struct{ V, K int }

// ParseSensConfigs reads "v2k16,v4k256".
func ParseSensConfigs(s string) ([]SensConfig, error) {
	var out []SensConfig
	for _, f := range strings.Split(s, ",") {
		var c SensConfig
		if _, err := fmt.Sscanf(strings.ToLower(strings.TrimSpace(f)), "v%dk%d", &c.V, &c.K); err != nil || c.check() != nil {
			return nil, fmt.Errorf("%q is not v<2|4|8>k<2..65536>", f)
		}
		out = append(out, c)
	}
	return out, nil
}

func (c SensConfig) check() error {
	if (c.V != 2 && c.V != 4 && c.V != 8) || c.K < 2 || c.K > 65536 {
		return fmt.Errorf("v%dk%d is not v<2|4|8>k<2..65536>", c.V, c.K)
	}
	return nil
}

// Label is the column name: "v2 K16 (2 bits/w)".
func (c SensConfig) Label() string {
	return fmt.Sprintf("v%d K%d (%.3g bits/w)", c.V, c.K, math.Log2(float64(c.K))/float64(c.V))
}

func (c SensConfig) quant() quant.Options {
	return quant.Options{Method: quant.MethodKMeans, V: c.V, K: c.K, Seed: 1, RowScale: true}
}

// validate checks what can be checked without reading the texts; every
// error names the option.
func (o Options) validate() error {
	if o.Model == "" {
		return fmt.Errorf("model: none given")
	}
	g, err := gguf.Open(o.Model) // bounds-checked: an error, never a panic (eval.ReadFileInfo's reader can panic)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	g.Close()
	for _, f := range [][2]string{{"text", o.Text}, {"out", o.Out}, {"work dir", o.WorkDir}} {
		if f[1] == "" {
			return fmt.Errorf("%s: none given", f[0])
		}
	}
	for _, b := range o.BPW {
		if !(b > 0) || math.IsInf(b, 0) {
			return fmt.Errorf("bpw: %g is not a positive number", b)
		}
	}
	for _, t := range o.Types {
		if _, err := bridge.ParseFType(t); err != nil {
			return fmt.Errorf("types: %w", err)
		}
	}
	for _, m := range o.Methods {
		if m != quant.MethodKMeans && m != quant.MethodPocketLLM {
			return fmt.Errorf("method: %q is not %s or %s", m, quant.MethodKMeans, quant.MethodPocketLLM)
		}
	}
	if o.Ctx < 4 || o.Chunks < 0 {
		return fmt.Errorf("ctx %d, chunks %d: want ctx >= 4 tokens and chunks >= 0", o.Ctx, o.Chunks)
	}
	if o.Sensitivity && len(o.SensConfigs) == 0 {
		return fmt.Errorf("sensitivity: no configs")
	}
	for _, c := range o.SensConfigs {
		if err := c.check(); err != nil {
			return fmt.Errorf("sensitivity configs: %w", err)
		}
	}
	return nil
}
