package bridge

// #include "native.h"
import "C"

import (
	"fmt"
	"sort"
	"strings"
)

// FType is a llama_ftype: the file type llama_model_quantize produces.
type FType int

// ftypes maps llama-quantize's names (its QUANT_OPTIONS, same spelling) to
// llama_ftype values. Q4_K, Q5_K and Q3_K are llama-quantize's aliases of the
// _M variants.
var ftypes = map[string]FType{
	"F32": C.LLAMA_FTYPE_ALL_F32, "F16": C.LLAMA_FTYPE_MOSTLY_F16, "BF16": C.LLAMA_FTYPE_MOSTLY_BF16,
	"Q8_0": C.LLAMA_FTYPE_MOSTLY_Q8_0,
	"Q4_0": C.LLAMA_FTYPE_MOSTLY_Q4_0, "Q4_1": C.LLAMA_FTYPE_MOSTLY_Q4_1,
	"Q5_0": C.LLAMA_FTYPE_MOSTLY_Q5_0, "Q5_1": C.LLAMA_FTYPE_MOSTLY_Q5_1,
	"MXFP4_MOE": C.LLAMA_FTYPE_MOSTLY_MXFP4_MOE,
	"IQ2_XXS":   C.LLAMA_FTYPE_MOSTLY_IQ2_XXS, "IQ2_XS": C.LLAMA_FTYPE_MOSTLY_IQ2_XS,
	"IQ2_S": C.LLAMA_FTYPE_MOSTLY_IQ2_S, "IQ2_M": C.LLAMA_FTYPE_MOSTLY_IQ2_M,
	"IQ1_S": C.LLAMA_FTYPE_MOSTLY_IQ1_S, "IQ1_M": C.LLAMA_FTYPE_MOSTLY_IQ1_M,
	"TQ1_0": C.LLAMA_FTYPE_MOSTLY_TQ1_0, "TQ2_0": C.LLAMA_FTYPE_MOSTLY_TQ2_0,
	"Q2_K": C.LLAMA_FTYPE_MOSTLY_Q2_K, "Q2_K_S": C.LLAMA_FTYPE_MOSTLY_Q2_K_S,
	"IQ3_XXS": C.LLAMA_FTYPE_MOSTLY_IQ3_XXS, "IQ3_XS": C.LLAMA_FTYPE_MOSTLY_IQ3_XS,
	"IQ3_S": C.LLAMA_FTYPE_MOSTLY_IQ3_S, "IQ3_M": C.LLAMA_FTYPE_MOSTLY_IQ3_M,
	"Q3_K": C.LLAMA_FTYPE_MOSTLY_Q3_K_M, "Q3_K_S": C.LLAMA_FTYPE_MOSTLY_Q3_K_S,
	"Q3_K_M": C.LLAMA_FTYPE_MOSTLY_Q3_K_M, "Q3_K_L": C.LLAMA_FTYPE_MOSTLY_Q3_K_L,
	"IQ4_NL": C.LLAMA_FTYPE_MOSTLY_IQ4_NL, "IQ4_XS": C.LLAMA_FTYPE_MOSTLY_IQ4_XS,
	"Q4_K": C.LLAMA_FTYPE_MOSTLY_Q4_K_M, "Q4_K_S": C.LLAMA_FTYPE_MOSTLY_Q4_K_S,
	"Q4_K_M": C.LLAMA_FTYPE_MOSTLY_Q4_K_M,
	"Q5_K":   C.LLAMA_FTYPE_MOSTLY_Q5_K_M, "Q5_K_S": C.LLAMA_FTYPE_MOSTLY_Q5_K_S,
	"Q5_K_M": C.LLAMA_FTYPE_MOSTLY_Q5_K_M,
	"Q6_K":   C.LLAMA_FTYPE_MOSTLY_Q6_K,
}

// needsImatrix lists the types llama.cpp refuses to produce without an
// importance matrix ("Missing importance matrix ... very low-bit quantization").
var needsImatrix = map[string]bool{
	"IQ2_XXS": true, "IQ2_XS": true, "IQ2_S": true, "IQ1_S": true, "IQ1_M": true, "Q2_K_S": true,
}

// blockSize32 lists the types whose weight type has 32-weight blocks; the
// rest of the quantized ones use 256 (QK_K), F32/F16/BF16 one.
var blockSize32 = map[string]bool{
	"Q4_0": true, "Q4_1": true, "Q5_0": true, "Q5_1": true, "Q8_0": true, "IQ4_NL": true, "MXFP4_MOE": true,
}

// ftypeBlockSize is the block width of the weight type an ftype gives every
// tensor under QuantizeParams.Pure (llama-quant.cpp's default_type).
func ftypeBlockSize(name string) int {
	switch n := strings.ToUpper(name); {
	case n == "F32" || n == "F16" || n == "BF16":
		return 1
	case blockSize32[n]:
		return 32
	}
	return 256
}

// ParseFType looks a type up by its llama-quantize name (case-insensitive).
func ParseFType(name string) (FType, error) {
	if f, ok := ftypes[strings.ToUpper(name)]; ok {
		return f, nil
	}
	return 0, fmt.Errorf("unknown ftype %q; known: %s", name, strings.Join(FTypeNames(), ", "))
}

// FTypeNames lists the accepted names, sorted.
func FTypeNames() []string {
	names := make([]string, 0, len(ftypes))
	for n := range ftypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FTypeNeedsImatrix reports whether llama.cpp requires an importance matrix for
// the type (for tensors that the type actually applies to).
func FTypeNeedsImatrix(name string) bool { return needsImatrix[strings.ToUpper(name)] }
