package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash test re-runs this test binary as a child (TestCrashChild with crashDirEnv set) that writes to a store
// until it is killed.
const (
	crashDirEnv   = "CLIPEVAL_STORE_CRASH_DIR"
	crashStartEnv = "CLIPEVAL_STORE_CRASH_START"
	crashDim      = 512
	crashBatch    = 16
)

// TestCrashChild is the child's loop: Put batches of model "a" (entry n is vec(n, crashDim) under TextKey(n)),
// printing "acked N" once the batch up to N is durable; every 7th batch also writes model "b", every 20th prunes
// "b" (a rewrite and rename of the whole file) and every 30th verifies, so that kills land in those too. It does
// nothing in a normal test run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the crash test's child; runs only under TestCrashSafety")
	}
	start, err := strconv.Atoi(os.Getenv(crashStartEnv))
	require.NoError(t, err)
	s, err := Open(dir)
	require.NoError(t, err)
	for b, n := 0, start; ; b++ {
		var keys []Key
		var vecs [][]float32
		for i := range crashBatch {
			keys = append(keys, TextKey(strconv.Itoa(n+i)))
			vecs = append(vecs, vec(n+i, crashDim))
		}
		require.NoError(t, s.Put("a", keys, vecs))
		n += crashBatch
		fmt.Printf("acked %d\n", n-1)
		if b%7 == 0 {
			require.NoError(t, s.Put("b", keys, vecs))
		}
		if b%20 == 19 {
			_, err := s.Prune(PruneOptions{Models: []string{"b"}})
			require.NoError(t, err)
		}
		if b%30 == 29 {
			r, err := s.Verify()
			require.NoError(t, err)
			require.True(t, r.OK(), "%+v", r)
		}
	}
}

// TestCrashSafety SIGKILLs a writing child at random (seeded) moments, and after each kill checks that the store
// opens, that Verify finds nothing corrupt or damaged, that every batch the child saw acknowledged is there, and
// that every entry there is exactly what was written.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process 6 times")
	}
	seed := uint64(20260301)
	if v := os.Getenv("CLIPEVAL_STORE_CRASH_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (CLIPEVAL_STORE_CRASH_SEED reruns it)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	defer s.Close()

	const rounds = 6
	next, kills := 0, 0
	for round := range rounds {
		delay := time.Duration(20+rng.IntN(400)) * time.Millisecond
		acked := runAndKill(t, dir, next, delay)
		kills++
		t.Logf("round %d: killed after %s, %d acknowledged", round, delay, acked-next+1)
		require.GreaterOrEqual(t, acked, next, "the child acknowledged at least one batch")

		r, err := s.Verify()
		require.NoError(t, err)
		assert.Equal(t, 0, r.Corrupt, "round %d", round)
		assert.Equal(t, 0, r.DamagedTotal, "round %d: %v", round, r.Damaged)

		// Every acknowledged entry is there and exact; entries past it (committed but not yet acknowledged) are
		// exact when there; nothing was written past one batch beyond.
		limit := acked + 2*crashBatch
		keys := make([]Key, limit+1)
		for n := range keys {
			keys[n] = TextKey(strconv.Itoa(n))
		}
		got, err := s.Get("a", keys)
		require.NoError(t, err)
		for n := 0; n <= acked; n++ {
			if !assert.Contains(t, got, n, "round %d: acknowledged entry %d", round, n) {
				break
			}
		}
		for n, v := range got {
			require.Equal(t, vec(n, crashDim), v, "round %d: entry %d", round, n)
		}
		assert.Equal(t, int64(0), s.Dropped())
		st, err := s.Stats()
		require.NoError(t, err)
		for _, m := range st.Models {
			if m.Model == "a" {
				assert.LessOrEqual(t, m.Entries, acked+1+crashBatch, "round %d", round)
			}
		}
		next = acked + 1
	}
	assert.GreaterOrEqual(t, kills, 5)
}

// runAndKill starts the child writing from entry start, SIGKILLs it delay after its first acknowledgement, and
// returns the last entry it acknowledged.
func runAndKill(t *testing.T, dir string, start int, delay time.Duration) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStartEnv+"="+strconv.Itoa(start))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	acks := make(chan int)
	go func() {
		defer close(acks)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
				if n, err := strconv.Atoi(v); err == nil {
					acks <- n
				}
			}
		}
	}()
	acked := start - 1
	var timer <-chan time.Time
	for {
		select {
		case n, ok := <-acks:
			if !ok { // the child's stdout closed: it exited (or was killed)
				werr := cmd.Wait()
				if timer != nil && isKilled(werr) {
					return acked
				}
				t.Fatalf("the child exited by itself (%v): %s", werr, stderr.String())
			}
			acked = n
			if timer == nil {
				timer = time.After(delay)
			}
		case <-timer:
			require.NoError(t, cmd.Process.Kill()) // SIGKILL
			timer = make(chan time.Time)           // never again; drain the acks printed before the kill
		}
	}
}

func isKilled(err error) bool {
	ee, ok := err.(*exec.ExitError)
	return ok && ee.ProcessState.String() == "signal: killed"
}
