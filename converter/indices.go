package converter

import (
	"fmt"

	"github.com/pocketgguf/pocketgguf/format"
)

// checkIndices refuses an index outside a table of k entries (per codebook
// for additive types, whose indices hold one 4-bit code per codebook).
func checkIndices(name string, ty format.PQType, k int, idx []uint32) error {
	for j, x := range idx {
		if !ty.Additive() {
			if int(x) >= k {
				return fmt.Errorf("tensor %q: index %d at position %d is outside the table's %d entries", name, x, j, k)
			}
			continue
		}
		for m := 0; m < ty.Codebooks; m++ {
			if c := int(x>>(4*m)) & 0x0F; c >= k {
				return fmt.Errorf("tensor %q: code %d of codebook %d at sub-vector %d is outside the table's %d entries", name, c, m, j, k)
			}
		}
	}
	return nil
}

// searchEntries is how many entries the group's exact search runs over:
// K, or K^M sums for an additive type (which sizes the training sample).
func (gr *GroupPlan) searchEntries() int {
	n := gr.K
	for m := 1; m < gr.Type.Codebooks; m++ {
		n *= gr.K
	}
	return n
}
