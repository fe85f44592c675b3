package quant

import (
	"github.com/pocketgguf/pocketgguf/format"
)

// trainPocketLLM: k-means codebook, decoder initialised to the identity.
func trainPocketLLM(s *Samples, o Options, progress Progress) (*format.Table, error) {
	cent, _ := kmeans(s, o, progress)
	return identityPocketTable(cent, o), nil
}
