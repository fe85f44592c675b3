package format

// Metadata keys (docs/FORMAT.md, "Keys"). Functions rather than constants
// where the key embeds a tensor or table name.
const (
	KeyVersion = "pocket.version"
	KeyMethod  = "pocket.method"
	KeySeed    = "pocket.seed"
)

func KeyTensorTable(tensor string) string   { return "pocket.tensor." + tensor + ".table" }
func KeyTensorScale(tensor string) string   { return "pocket.tensor." + tensor + ".scale" }
func KeyTensorRelRMSE(tensor string) string { return "pocket.tensor." + tensor + ".rel_rmse" }

func KeyTableV(table string) string             { return "pocket.table." + table + ".v" }
func KeyTableK(table string) string             { return "pocket.table." + table + ".k" }
func KeyTableLatent(table string) string        { return "pocket.table." + table + ".latent" }
func KeyTableCodebook(table string) string      { return "pocket.table." + table + ".codebook" }
func KeyTableDecoderBlocks(table string) string { return "pocket.table." + table + ".decoder.blocks" }
func KeyTableDecoderHidden(table string) string { return "pocket.table." + table + ".decoder.hidden" }
func KeyTableDecoder(table string) string       { return "pocket.table." + table + ".decoder" }
func KeyTableSharing(table string) string       { return "pocket.table." + table + ".sharing" }

// KeyTableCodebooks is written for additive tables only (absent means 1), so
// files without them keep their version-1 bytes.
func KeyTableCodebooks(table string) string { return "pocket.table." + table + ".codebooks" }
