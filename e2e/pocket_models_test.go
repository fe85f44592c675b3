package e2e

import "testing"

// pocketModels makes a PocketGGUF from the F32 model and its unpacked twin.
// Until the converter is merged into this branch it uses POCKET_E2E_PQ and
// POCKET_E2E_PQ_REF (paths) when set, and nothing otherwise.
func pocketModels(t *testing.T, f32 string) []testModel {
	pq, ref := envModel("POCKET_E2E_PQ"), envModel("POCKET_E2E_PQ_REF")
	if pq == "" || ref == "" {
		t.Log("no PocketGGUF model (converter not merged; POCKET_E2E_PQ/POCKET_E2E_PQ_REF unset): stock model only")
		return nil
	}
	return []testModel{
		{name: "stories-pq", path: pq, quant: "PQ", role: "pq"},
		{name: "stories-pq-unpacked", path: ref, quant: "F32", tensorTypes: []string{"F32"}, role: "ref"},
	}
}
