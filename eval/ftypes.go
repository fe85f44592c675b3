package eval

import (
	"fmt"
	"sort"
	"strings"
)

// FType is a llama_ftype (llama.h): the type mix llama_model_quantize aims at.
type FType struct {
	Name string // as llama-quantize spells it
	ID   int
	// NeedsImatrix: llama_model_quantize refuses these without an importance
	// matrix (IQ2_*, IQ1_*, and Q2_K in Q2_K_S; llama-quant.cpp).
	NeedsImatrix bool
}

// ftypes is llama.h's enum llama_ftype at ec98e2002, the quantizing ones.
var ftypes = []FType{
	{"F32", 0, false}, {"F16", 1, false}, {"BF16", 32, false},
	{"Q4_0", 2, false}, {"Q4_1", 3, false}, {"Q5_0", 8, false}, {"Q5_1", 9, false}, {"Q8_0", 7, false},
	{"Q2_K", 10, false}, {"Q2_K_S", 21, true}, {"Q3_K_S", 11, false}, {"Q3_K_M", 12, false},
	{"Q3_K_L", 13, false}, {"Q4_K_S", 14, false}, {"Q4_K_M", 15, false}, {"Q5_K_S", 16, false},
	{"Q5_K_M", 17, false}, {"Q6_K", 18, false},
	{"IQ2_XXS", 19, true}, {"IQ2_XS", 20, true}, {"IQ2_S", 28, true}, {"IQ2_M", 29, true},
	{"IQ3_XXS", 23, false}, {"IQ3_XS", 22, false}, {"IQ3_S", 26, false}, {"IQ3_M", 27, false},
	{"IQ1_S", 24, true}, {"IQ1_M", 31, true}, {"IQ4_NL", 25, false}, {"IQ4_XS", 30, false},
	{"TQ1_0", 36, false}, {"TQ2_0", 37, false},
}

// ParseFType looks a type up by its llama-quantize name, any case.
func ParseFType(s string) (FType, error) {
	for _, f := range ftypes {
		if strings.EqualFold(f.Name, strings.TrimSpace(s)) {
			return f, nil
		}
	}
	names := make([]string, len(ftypes))
	for i, f := range ftypes {
		names[i] = f.Name
	}
	sort.Strings(names)
	return FType{}, fmt.Errorf("unknown type %q (known: %s)", s, strings.Join(names, ", "))
}
