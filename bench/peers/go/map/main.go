// Command map is the Go 1.19 peer of bench/map/bench_map.c: the
// WORKLOAD.md map phases on Go's own map[string]int64, timed the same way,
// printed as the C driver's machine-readable lines ("D" workload digests,
// "R <impl> <n> <phase> <value> <ops> <checksum>") so that
// `bench_map --table` merges both into one table.
//
//   - insert: N inserts in perm order into make(map[string]int64), and
//     (insert_hint) into make(map[string]int64, N);
//   - hit: 10M lookups `v, ok := m[k]` cycling through perm;
//   - miss: 10M lookups of key N + (q mod N);
//   - iter: `for _, v := range m` passes until 10M entries are visited;
//   - delete: the N keys in perm order;
//   - mem: runtime.MemStats.HeapAlloc after runtime.GC() with the map
//     alive, minus the same before it was made, over N.
//
// The keys are Go strings built by the same generator as the C driver's,
// all before any timing; the map keeps (borrows) the string bytes, the
// storage model of gort's strref map. Small N are repeated on fresh maps
// (-reps-ops), exactly as the C driver repeats them; runtime.GC() runs
// before every timed unit (outside the timer), as the C driver frees the
// previous map outside the timer, so each timed unit starts from a
// collected heap; a collection the unit itself triggers is Go's real cost
// and is timed. A wrong checksum exits with status 1 before any R line is
// printed; a slow time never fails.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

const (
	benchLookups     = 10000000
	benchIterEntries = 10000000
)

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func splitmix64(state *uint64) uint64 {
	*state += 0x9E3779B97F4A7C15
	return mix64(*state)
}

// makeKey returns key i: 16 hex characters of mix64(i ^ 0x5EED), then
// mix64(i + 0x1000000) % 17 letters of "abcdefghijklmnopq" from i % 17.
func makeKey(i uint64) string {
	const hex = "0123456789abcdef"
	const tail = "abcdefghijklmnopq"
	var b [33]byte
	h := mix64(i ^ 0x5EED)
	for d := 0; d < 16; d++ {
		b[d] = hex[(h>>(60-4*uint(d)))&15]
	}
	extra := int(mix64(i+0x1000000) % 17)
	for e := 0; e < extra; e++ {
		b[16+e] = tail[(i+uint64(e))%17]
	}
	return string(b[:16+extra])
}

func makeKeys(n int) []string {
	keys := make([]string, 2*n)
	for i := range keys {
		keys[i] = makeKey(uint64(i))
	}
	return keys
}

func makePerm(n int) []uint32 {
	perm := make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	state := uint64(42)
	for i := n - 1; i >= 1; i-- {
		j := splitmix64(&state) % uint64(i+1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}

// FNV-1a 64 digests, as the C driver computes them.
func fnv(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * 0x100000001B3
	}
	return h
}

func keysDigest(keys []string) uint64 {
	h := uint64(0xCBF29CE484222325)
	for _, k := range keys {
		h = fnv(h, []byte(k))
		h = fnv(h, []byte{0})
	}
	return h
}

func permDigest(perm []uint32) uint64 {
	h := uint64(0xCBF29CE484222325)
	for _, p := range perm {
		h = fnv(h, []byte{byte(p), byte(p >> 8), byte(p >> 16), byte(p >> 24)})
	}
	return h
}

type work struct {
	n           int
	keys        []string // 2n: inserted keys
	lkeys       []string // 2n: lookup/delete keys (keys, or copies)
	perm        []uint32
	reps        int
	lookups     int
	iterEntries int
}

// ---- phases -------------------------------------------------------------

//go:noinline
func makeFill(w *work, hint int) map[string]int64 {
	var m map[string]int64
	if hint != 0 {
		m = make(map[string]int64, hint)
	} else {
		m = make(map[string]int64)
	}
	keys, perm := w.keys, w.perm
	for i := 0; i < w.n; i++ {
		k := perm[i]
		m[keys[k]] = int64(k)
	}
	return m
}

//go:noinline
func hit(m map[string]int64, w *work) int64 {
	keys, perm, n := w.lkeys, w.perm, w.n
	var s int64
	j := 0
	for q := 0; q < w.lookups; q++ {
		if v, ok := m[keys[perm[j]]]; ok {
			s += v
		}
		if j++; j == n {
			j = 0
		}
	}
	return s
}

//go:noinline
func miss(m map[string]int64, w *work) int64 {
	keys, n := w.lkeys[w.n:], w.n
	var s int64
	j := 0
	for q := 0; q < w.lookups; q++ {
		if v, ok := m[keys[j]]; ok {
			s += v + 1
		}
		if j++; j == n {
			j = 0
		}
	}
	return s
}

//go:noinline
func iter(m map[string]int64, passes int, visited *int) int64 {
	var s int64
	c := 0
	for p := 0; p < passes; p++ {
		for _, v := range m {
			s += v
			c++
		}
	}
	*visited = c
	return s
}

//go:noinline
func del(m map[string]int64, w *work) int64 {
	keys, perm := w.lkeys, w.perm
	before := len(m)
	for i := 0; i < w.n; i++ {
		delete(m, keys[perm[i]])
	}
	return int64(before - len(m))
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const (
	phInsert = iota
	phInsertHint
	phHit
	phMiss
	phIter
	phDelete
	phN
)

var phaseKey = [phN]string{"insert", "insert_hint", "hit", "miss", "iter", "delete"}

type result struct {
	ns    [phN]float64
	ops   [phN]uint64
	sum   [phN]int64
	bytes float64
	thpMB float64 // -1: unknown
}

// thpMB is AnonHugePages of /proc/self/smaps_rollup in MB: Go's runtime
// asks for transparent huge pages on its heap, glibc's malloc does not by
// default; the C driver reports the same figure.
func thpMB() float64 {
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb float64
		line := sc.Text()
		if strings.HasPrefix(line, "AnonHugePages:") {
			if _, err := fmt.Sscanf(line, "AnonHugePages: %f kB", &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return -1
}

// insert times w.reps makes+fills; the first map is returned when keep.
func insert(w *work, hint int, keep bool, r *result, ph int) (map[string]int64, float64) {
	var total time.Duration
	var kept map[string]int64
	heap := 0.0
	for rep := 0; rep < w.reps; rep++ {
		h0 := heapAlloc() // also collects the previous rep's map
		t0 := time.Now()
		m := makeFill(w, hint)
		total += time.Since(t0)
		if rep == 0 || r.sum[ph] == int64(w.n) {
			r.sum[ph] = int64(len(m))
		}
		if rep == 0 && keep {
			heap = float64(heapAlloc()) - float64(h0)
			runtime.KeepAlive(m)
			kept = m
		}
	}
	r.ns[ph] = float64(total.Nanoseconds())
	r.ops[ph] = uint64(w.reps * w.n)
	return kept, heap
}

func run(w *work) *result {
	r := &result{}
	n := w.n

	// Warm-up, as the C driver does (first-use allocations not counted).
	warm := make(map[string]int64)
	warm[w.keys[0]] = 0
	runtime.KeepAlive(warm)

	m, heap := insert(w, 0, true, r, phInsert)
	r.bytes = heap / float64(n)
	r.thpMB = thpMB()
	insert(w, n, false, r, phInsertHint)

	runtime.GC()
	t0 := time.Now()
	r.sum[phHit] = hit(m, w)
	r.ns[phHit] = float64(time.Since(t0).Nanoseconds())
	r.ops[phHit] = uint64(w.lookups)

	runtime.GC()
	t0 = time.Now()
	r.sum[phMiss] = miss(m, w)
	r.ns[phMiss] = float64(time.Since(t0).Nanoseconds())
	r.ops[phMiss] = uint64(w.lookups)

	passes := (w.iterEntries + n - 1) / n
	visited := 0
	runtime.GC()
	t0 = time.Now()
	r.sum[phIter] = iter(m, passes, &visited)
	r.ns[phIter] = float64(time.Since(t0).Nanoseconds())
	r.ops[phIter] = uint64(visited)

	var total time.Duration
	for rep := 0; rep < w.reps; rep++ {
		if rep > 0 {
			m = makeFill(w, 0)
		}
		runtime.GC()
		t0 = time.Now()
		d := del(m, w)
		total += time.Since(t0)
		if len(m) != 0 {
			d = -1 - int64(len(m))
		}
		if rep == 0 || r.sum[phDelete] == int64(n) {
			r.sum[phDelete] = d
		}
	}
	r.ns[phDelete] = float64(total.Nanoseconds())
	r.ops[phDelete] = uint64(w.reps * n)

	for p := 0; p < phN; p++ {
		r.ns[p] /= float64(r.ops[p])
	}
	return r
}

func main() {
	impl := flag.String("impl", "go", "implementation: go")
	n := flag.Int("n", 0, "N: keys 0..N-1 present, N..2N-1 missing")
	repsOps := flag.Int("reps-ops", 1000000, "repeat insert/delete on fresh maps until this many ops")
	copyKeys := flag.Bool("copy-keys", false, "look up and delete with copies of the keys (other addresses)")
	lookups := flag.Int("lookups", benchLookups, "lookups per lookup phase")
	iterEntries := flag.Int("iter-entries", benchIterEntries, "entries visited at least by iterate")
	flag.Parse()
	if *impl != "go" || *n < 2 || *n > (1<<31)-1 {
		fmt.Fprintln(os.Stderr, "usage: bench_map_go -impl go -n N [-reps-ops K] [-copy-keys] [-lookups L] [-iter-entries E]")
		os.Exit(2)
	}

	w := &work{n: *n, lookups: *lookups, iterEntries: *iterEntries}
	w.keys = makeKeys(w.n)
	w.lkeys = w.keys
	if *copyKeys {
		w.lkeys = makeKeys(w.n) // the same strings, other allocations
	}
	w.perm = makePerm(w.n)
	w.reps = *repsOps / w.n
	if w.reps == 0 {
		w.reps = 1
	}

	// Expected checksums.
	tri := int64(w.n) * int64(w.n-1) / 2
	hitWant := int64(w.lookups/w.n) * tri
	for i := 0; i < w.lookups%w.n; i++ {
		hitWant += int64(w.perm[i])
	}
	passes := (w.iterEntries + w.n - 1) / w.n
	want := [phN]int64{int64(w.n), int64(w.n), hitWant, 0, int64(passes) * tri, int64(w.n)}

	r := run(w)

	bad := false
	for p := 0; p < phN; p++ {
		if r.sum[p] != want[p] {
			fmt.Fprintf(os.Stderr, "bench_map_go: go n=%d %s: checksum %d, expected %d\n",
				w.n, phaseKey[p], r.sum[p], want[p])
			bad = true
		}
	}
	if r.ops[phIter] != uint64(passes*w.n) {
		fmt.Fprintf(os.Stderr, "bench_map_go: go n=%d iter: %d entries visited, expected %d\n",
			w.n, r.ops[phIter], passes*w.n)
		bad = true
	}
	if bad {
		os.Exit(1)
	}
	fmt.Printf("D go %d keys %016x perm %016x\n", w.n, keysDigest(w.keys), permDigest(w.perm))
	for p := 0; p < phN; p++ {
		fmt.Printf("R go %d %s %.3f %d %d\n", w.n, phaseKey[p], r.ns[p], r.ops[p], r.sum[p])
	}
	fmt.Printf("R go %d mem %.3f 0 0\n", w.n, r.bytes)
	if r.thpMB >= 0 {
		fmt.Printf("R go %d thp %.1f 0 0\n", w.n, r.thpMB)
	}
}
