package format

import "github.com/pocketgguf/pocketgguf/gguf"

// The PQ types join gguf's type table here, so that gguf (the generic
// container) needs no knowledge of PocketGGUF: any program that imports this
// package reads and writes files with PQ tensors.
func init() {
	for _, t := range PQTypes {
		gguf.RegisterType(t.ID, gguf.TypeInfo{Name: t.Name, BlockSize: t.BlockSize(), TypeSize: t.TypeSize()})
	}
}
