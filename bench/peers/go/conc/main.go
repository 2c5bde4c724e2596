// Command conc is the Go 1.19 peer of bench/conc/bench_conc.c: the
// WORKLOAD.md concurrent read-mostly map on Go's own concurrent maps,
// timed the same way and printed as the C driver's lines ("D" key digest,
// "R <impl> <T> <writer> <lookups/s> <updates/s> <lookups> <updates>") so
// that `bench_conc --table` merges both into one table.
//
// Implementations (-impl):
//   - gosyncmap: sync.Map; Load per lookup, Store per update (an int64
//     in an interface: Store allocates, as it does in a Go program);
//   - gorw: map[string]int64 behind a sync.RWMutex; RLock/RUnlock per
//     lookup, Lock/Unlock per update;
//   - gocow: an atomic.Value holding a map[string]int64 that is never
//     written once published (copy-on-write): a reader Loads it and looks
//     up; the writer stages updates and every 1000 of them copies the
//     whole map, applies them and Stores the copy (the old map goes to the
//     garbage collector).
//
// T reader goroutines do random hit lookups (splitmix64 seeded 0x1000 + i,
// index = high half of r * N, as the C driver) for -seconds; with -writer
// one more goroutine updates random existing keys (seed 0x2000) with value
// index | seq << 20 and at the end publishes what it still has staged,
// inside its timed span. GOMAXPROCS is Go's default (the core count), so
// Go schedules T+1 goroutines on the machine's cores as the C threads are.
//
// Checks, as in the C driver: every value found must carry the index of
// the key looked up in its low 20 bits, no lookup may miss, and after the
// run the writer's last update must be visible; a failure exits with
// status 1 before any R line is printed. A slow time never fails.
package main

import (
	"flag"
	"fmt"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	idxBits = 20
	idxMask = 1<<idxBits - 1
	batch   = 1000 // staged maps publish every 1000 updates
	chunk   = 64   // operations between two looks at the stop flag
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

// index is a uniform index below n: the high half of r * n, as the C
// driver computes it (no divide).
func index(r, n uint64) uint32 {
	hi, _ := bits.Mul64(r, n)
	return uint32(hi)
}

// makeKeys returns key i = the 16 lowercase hex characters of
// mix64(i ^ 0x5EED), for i < n.
func makeKeys(n int) []string {
	const hex = "0123456789abcdef"
	keys := make([]string, n)
	var b [16]byte
	for i := range keys {
		h := mix64(uint64(i) ^ 0x5EED)
		for d := 0; d < 16; d++ {
			b[d] = hex[(h>>(60-4*uint(d)))&15]
		}
		keys[i] = string(b[:])
	}
	return keys
}

// keysDigest is FNV-1a 64 over the keys, each followed by a NUL, as the C
// driver computes it.
func keysDigest(keys []string) uint64 {
	h := uint64(0xCBF29CE484222325)
	for _, k := range keys {
		for i := 0; i < len(k); i++ {
			h = (h ^ uint64(k[i])) * 0x100000001B3
		}
		h *= 0x100000001B3 // ^ 0
	}
	return h
}

// concMap is one implementation: find as a reader does it, update as the
// writer does it, writeEnd publishes what the writer has staged.
type concMap interface {
	find(k string) (int64, bool)
	update(k string, v int64)
	writeEnd()
}

// ---- sync.Map ---------------------------------------------------------

type syncMap struct{ m sync.Map }

func (s *syncMap) find(k string) (int64, bool) {
	v, ok := s.m.Load(k)
	if !ok {
		return 0, false
	}
	return v.(int64), true
}
func (s *syncMap) update(k string, v int64) { s.m.Store(k, v) }
func (s *syncMap) writeEnd()                {}

// ---- map + RWMutex ----------------------------------------------------

type rwMap struct {
	mu sync.RWMutex
	m  map[string]int64
}

func (r *rwMap) find(k string) (int64, bool) {
	r.mu.RLock()
	v, ok := r.m[k]
	r.mu.RUnlock()
	return v, ok
}
func (r *rwMap) update(k string, v int64) {
	r.mu.Lock()
	r.m[k] = v
	r.mu.Unlock()
}
func (r *rwMap) writeEnd() {}

// ---- atomic.Value holding a copy-on-write map -------------------------

type cowUpdate struct {
	k string
	v int64
}

type cowMap struct {
	v       atomic.Value // map[string]int64, never written once stored
	pending []cowUpdate  // the writer's staged updates (writer only)
}

func (c *cowMap) find(k string) (int64, bool) {
	v, ok := c.v.Load().(map[string]int64)[k]
	return v, ok
}

func (c *cowMap) update(k string, v int64) {
	c.pending = append(c.pending, cowUpdate{k, v})
	if len(c.pending) == batch {
		c.publish()
	}
}

// publish copies the whole map, applies the staged updates and stores the
// copy: what a Go programmer writes around an atomic.Value.
func (c *cowMap) publish() {
	old := c.v.Load().(map[string]int64)
	m := make(map[string]int64, len(old))
	for k, v := range old {
		m[k] = v
	}
	for _, u := range c.pending {
		m[u.k] = u.v
	}
	c.v.Store(m)
	c.pending = c.pending[:0]
}

func (c *cowMap) writeEnd() {
	if len(c.pending) != 0 {
		c.publish()
	}
}

func newMap(impl string, keys []string) concMap {
	switch impl {
	case "gosyncmap":
		s := &syncMap{}
		for i, k := range keys {
			s.m.Store(k, int64(i))
		}
		return s
	case "gorw":
		r := &rwMap{m: make(map[string]int64, len(keys))}
		for i, k := range keys {
			r.m[k] = int64(i)
		}
		return r
	case "gocow":
		c := &cowMap{pending: make([]cowUpdate, 0, batch)}
		m := make(map[string]int64, len(keys))
		for i, k := range keys {
			m[k] = int64(i)
		}
		c.v.Store(m)
		return c
	}
	return nil
}

// ---- the loops --------------------------------------------------------
//
// One reader and one writer loop per implementation, written out, so that
// each map's operations are direct calls the compiler can inline into the
// loop, as the C loops inline theirs (a call through the concMap interface
// would add a dynamic dispatch per lookup that no Go user pays).

type thread struct {
	seed                    uint64
	ops, got, want, missing uint64
	lastKey                 uint32
	lastVal                 int64
	ns                      float64
	_                       [64]byte // no two threads' results share a line
}

// readState is a reader's loop state: its generator and checksums.
type readState struct {
	s, n, ops, got, want, missing uint64
}

func (r *readState) save(t *thread) {
	t.seed, t.ops, t.got, t.want, t.missing = r.s, r.ops, r.got, r.want, r.missing
}

//go:noinline
func readSyncMap(m *syncMap, keys []string, stop *atomic.Bool, t *thread) {
	r := readState{s: t.seed, n: uint64(len(keys))}
	for !stop.Load() {
		for c := 0; c < chunk; c++ {
			i := index(splitmix64(&r.s), r.n)
			if v, ok := m.find(keys[i]); ok {
				r.got += uint64(v) & idxMask
				r.want += uint64(i)
			} else {
				r.missing++
			}
		}
		r.ops += chunk
	}
	r.save(t)
}

//go:noinline
func readRW(m *rwMap, keys []string, stop *atomic.Bool, t *thread) {
	r := readState{s: t.seed, n: uint64(len(keys))}
	for !stop.Load() {
		for c := 0; c < chunk; c++ {
			i := index(splitmix64(&r.s), r.n)
			if v, ok := m.find(keys[i]); ok {
				r.got += uint64(v) & idxMask
				r.want += uint64(i)
			} else {
				r.missing++
			}
		}
		r.ops += chunk
	}
	r.save(t)
}

//go:noinline
func readCOW(m *cowMap, keys []string, stop *atomic.Bool, t *thread) {
	r := readState{s: t.seed, n: uint64(len(keys))}
	for !stop.Load() {
		for c := 0; c < chunk; c++ {
			i := index(splitmix64(&r.s), r.n)
			if v, ok := m.find(keys[i]); ok {
				r.got += uint64(v) & idxMask
				r.want += uint64(i)
			} else {
				r.missing++
			}
		}
		r.ops += chunk
	}
	r.save(t)
}

// The writers: value = index | seq << 20, seq = 1, 2, ...

//go:noinline
func writeSyncMap(m *syncMap, keys []string, stop *atomic.Bool, t *thread) {
	s, n, seq, i := t.seed, uint64(len(keys)), uint64(0), uint32(0)
	for !stop.Load() {
		for c := 0; c < chunk; c++ {
			i = index(splitmix64(&s), n)
			seq++
			m.update(keys[i], int64(uint64(i)|seq<<idxBits))
		}
	}
	m.writeEnd()
	t.seed, t.ops, t.lastKey, t.lastVal = s, seq, i, int64(uint64(i)|seq<<idxBits)
}

//go:noinline
func writeRW(m *rwMap, keys []string, stop *atomic.Bool, t *thread) {
	s, n, seq, i := t.seed, uint64(len(keys)), uint64(0), uint32(0)
	for !stop.Load() {
		for c := 0; c < chunk; c++ {
			i = index(splitmix64(&s), n)
			seq++
			m.update(keys[i], int64(uint64(i)|seq<<idxBits))
		}
	}
	m.writeEnd()
	t.seed, t.ops, t.lastKey, t.lastVal = s, seq, i, int64(uint64(i)|seq<<idxBits)
}

//go:noinline
func writeCOW(m *cowMap, keys []string, stop *atomic.Bool, t *thread) {
	s, n, seq, i := t.seed, uint64(len(keys)), uint64(0), uint32(0)
	for !stop.Load() {
		for c := 0; c < chunk; c++ {
			i = index(splitmix64(&s), n)
			seq++
			m.update(keys[i], int64(uint64(i)|seq<<idxBits))
		}
	}
	m.writeEnd()
	t.seed, t.ops, t.lastKey, t.lastVal = s, seq, i, int64(uint64(i)|seq<<idxBits)
}

// loops returns the reader and writer loops of m's implementation.
func loops(m concMap) (read, write func([]string, *atomic.Bool, *thread)) {
	switch m := m.(type) {
	case *syncMap:
		return func(k []string, s *atomic.Bool, t *thread) { readSyncMap(m, k, s, t) },
			func(k []string, s *atomic.Bool, t *thread) { writeSyncMap(m, k, s, t) }
	case *rwMap:
		return func(k []string, s *atomic.Bool, t *thread) { readRW(m, k, s, t) },
			func(k []string, s *atomic.Bool, t *thread) { writeRW(m, k, s, t) }
	case *cowMap:
		return func(k []string, s *atomic.Bool, t *thread) { readCOW(m, k, s, t) },
			func(k []string, s *atomic.Bool, t *thread) { writeCOW(m, k, s, t) }
	}
	panic("unknown map")
}

func main() {
	impl := flag.String("impl", "", "implementation: gosyncmap, gorw, gocow")
	threads := flag.Int("threads", 1, "reader goroutines")
	writer := flag.Bool("writer", false, "one writer goroutine too")
	seconds := flag.Float64("seconds", 1, "how long the readers run")
	n := flag.Int("n", 100000, "keys")
	list := flag.Bool("list", false, "print the implementations")
	flag.Parse()
	if *list {
		fmt.Println("gosyncmap Go sync.Map")
		fmt.Println("gorw Go RWMutex+map")
		fmt.Println("gocow Go COW atomic.Value")
		return
	}
	keys := makeKeys(*n)
	var m concMap
	if *n >= 2 && *n <= 1<<idxBits {
		m = newMap(*impl, keys)
	}
	if m == nil || *threads < 1 || !(*seconds > 0) {
		fmt.Fprintln(os.Stderr, "usage: bench_conc_go -impl gosyncmap|gorw|gocow [-threads T] [-writer] [-seconds S] [-n N]")
		os.Exit(2)
	}

	nth := *threads
	if *writer {
		nth++
	}
	ts := make([]thread, nth)
	read, write := loops(m)
	var stop atomic.Bool
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(nth)
	done.Add(nth)
	for g := 0; g < nth; g++ {
		isWriter := *writer && g == *threads
		t := &ts[g]
		if isWriter {
			t.seed = 0x2000
		} else {
			t.seed = 0x1000 + uint64(g)
		}
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			t0 := time.Now()
			if isWriter {
				write(keys, &stop, t)
			} else {
				read(keys, &stop, t)
			}
			t.ns = float64(time.Since(t0).Nanoseconds())
		}()
	}
	ready.Wait()
	close(start)
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	stop.Store(true)
	done.Wait()

	bad := false
	var reads, writes float64
	var lookups, updates uint64
	for g := 0; g < *threads; g++ {
		t := &ts[g]
		if t.missing != 0 || t.got != t.want || t.ops == 0 {
			fmt.Fprintf(os.Stderr, "bench_conc_go: %s reader %d: %d lookups, %d missing, index checksum %d, expected %d\n",
				*impl, g, t.ops, t.missing, t.got, t.want)
			bad = true
		}
		reads += float64(t.ops) / t.ns * 1e9
		lookups += t.ops
	}
	if *writer {
		t := &ts[*threads]
		writes = float64(t.ops) / t.ns * 1e9
		updates = t.ops
		v, ok := m.find(keys[t.lastKey])
		if t.ops == 0 || !ok || v != t.lastVal {
			fmt.Fprintf(os.Stderr, "bench_conc_go: %s writer: %d updates, the last (key %d := %d) reads back as %d (found %v)\n",
				*impl, t.ops, t.lastKey, t.lastVal, v, ok)
			bad = true
		}
	}
	if bad {
		os.Exit(1)
	}
	w := 0
	if *writer {
		w = 1
	}
	fmt.Printf("D %s %d keys %016x\n", *impl, *n, keysDigest(keys))
	fmt.Printf("R %s %d %d %.0f %.0f %d %d\n", *impl, *threads, w, reads, writes, lookups, updates)
}
