//go:build !openblas || !cgo

package rank

// gateScan writes to hits the positions j of row where row[j] ≥ rowGate or row[j] ≥ colGates[j], ascending, and
// returns how many it wrote: the entries of a tile's row that can change a query's state (see pass.scan). hits
// and colGates are at least as long as row. This build's is plain Go (the cgo build's is vectorised C).
func gateScan(row []float32, rowGate float32, colGates []float32, hits []int32) int {
	colGates, hits = colGates[:len(row)], hits[:len(row)]
	k := 0
	for j, v := range row {
		if v >= rowGate || v >= colGates[j] {
			hits[k] = int32(j)
			k++
		}
	}
	return k
}
