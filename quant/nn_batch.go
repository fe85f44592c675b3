package quant

// leafBlocks is the tree's leaf entries in the layout of the batched
// search: each leaf padded to blocks of 8 entries, each block stored
// dimension-major (v rows of 8 floats), so eight distances are computed at
// once. Padding entries have id -1 and coordinates that give a NaN or
// infinite distance, which never wins a comparison.
type leafBlocks struct {
	dim         []int32 // per node: split dimension or -1
	split       []float32
	left, right []int32 // inner: children; leaf: block range [left, right)
	blk         []float32
	ids         []int32 // per block slot: entry index or -1
}

const padCoord = 1e30

// buildBlocks is called once by newKDTree, before the tree is shared
// between goroutines.
func (t *kdTree) buildBlocks() *leafBlocks {
	v := t.v
	lb := &leafBlocks{}
	for _, nd := range t.nodes {
		lb.dim = append(lb.dim, nd.dim)
		lb.split = append(lb.split, nd.split)
		if nd.dim >= 0 {
			lb.left = append(lb.left, nd.left)
			lb.right = append(lb.right, nd.right)
			continue
		}
		first := int32(len(lb.ids) / 8)
		for a := int(nd.left); a < int(nd.right); a += 8 {
			for d := 0; d < v; d++ {
				for l := 0; l < 8; l++ {
					x := float32(padCoord)
					if a+l < int(nd.right) {
						x = t.pts[(a+l)*v+d]
					}
					lb.blk = append(lb.blk, x)
				}
			}
			for l := 0; l < 8; l++ {
				id := int32(-1)
				if a+l < int(nd.right) {
					id = t.ids[a+l]
				}
				lb.ids = append(lb.ids, id)
			}
		}
		lb.left = append(lb.left, first)
		lb.right = append(lb.right, int32(len(lb.ids)/8))
	}
	return lb
}
