package rank

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/clipeval/clipeval/benchmarks/metrics"
)

// queryRanks is the ranking the retrieval task used before this package, kept as the test oracle: it ranks the gallery for each query by dot product, higher first and equal scores by lower gallery
// index (the order of Rank), without keeping a queries × gallery score matrix: each worker holds one score row at
// a time. For L2-normalised rows (NormalizeRows) the scores are the cosine similarities, bit for bit, so the ranks
// equal those counted on the full matrix (the tests check this against such an N×N reference).
//
// relevant[q] lists the gallery items relevant to query q; ranks[q][j] is the 0-based rank of relevant[q][j].
// top[q] is the gallery item ranked first for query q. Every row of queries and gallery must have one width.
func queryRanks(queries, gallery [][]float64, relevant [][]int) (ranks [][]int, top []int, err error) {
	if len(queries) != len(relevant) {
		return nil, nil, fmt.Errorf("query ranks: %d queries with %d relevance lists", len(queries), len(relevant))
	}
	if len(gallery) == 0 {
		return nil, nil, fmt.Errorf("query ranks: the gallery is empty")
	}
	width := len(gallery[0])
	for _, rows := range [][][]float64{queries, gallery} {
		for i, r := range rows {
			if len(r) != width {
				return nil, nil, fmt.Errorf("query ranks: row %d has width %d, gallery row 0 has %d", i, len(r), width)
			}
		}
	}
	for q, rel := range relevant {
		for _, g := range rel {
			if g < 0 || g >= len(gallery) {
				return nil, nil, fmt.Errorf("query ranks: query %d names gallery item %d of %d", q, g, len(gallery))
			}
		}
	}
	ranks, top = make([][]int, len(queries)), make([]int, len(queries))
	workers := min(runtime.GOMAXPROCS(0), max(len(queries), 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			scores := make([]float64, len(gallery))
			for q := w; q < len(queries); q += workers {
				for j, g := range gallery {
					scores[j] = metrics.Dot(queries[q], g)
				}
				top[q] = metrics.Argmax(scores)
				ranks[q] = make([]int, len(relevant[q]))
				for j, g := range relevant[q] {
					ranks[q][j], _ = metrics.Rank(scores, g) // g is in range, checked above
				}
			}
		})
	}
	wg.Wait()
	return ranks, top, nil
}
