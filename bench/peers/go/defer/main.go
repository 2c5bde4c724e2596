// Command defer is the Go 1.19 peer of bench/defer/bench_defer.c: the same
// defer/panic cases (WORKLOAD.md, "Defer / panic") written as a Go
// programmer writes them, timed the same way, printed as the C driver's
// machine-readable "R <impl> <case> <ns> <iters> <checksum>" lines so that
// `bench_defer --table` merges both into one table.
//
//   - defer1, defer8: open-coded defers (at most 8 per function, none in a
//     loop); build with -gcflags=-d=defer to see the compiler say so;
//   - loop4: a defer in a loop cannot be open-coded: a heap defer record
//     (deferproc, from the per-P pool) per iteration;
//   - panic1, panic10, panic1e: panic + recover in a deferred closure,
//     one frame up and ten frames up with one defer in each frame.
//
// Every case is //go:noinline and called through a func value, as the C
// driver calls through a function pointer; the baselines ("gobase") are
// the same functions without defer or panic. The counter the deferred
// calls increment is checked after every timed loop; a wrong count exits
// with status 1, a slow time never fails.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

var errBoom = errors.New("boom")

//go:noinline
func incr(c *uint64) { *c++ }

// ---- baselines --------------------------------------------------------

//go:noinline
func base1(c *uint64) { incr(c) }

//go:noinline
func base8(c *uint64) {
	incr(c)
	incr(c)
	incr(c)
	incr(c)
	incr(c)
	incr(c)
	incr(c)
	incr(c)
}

//go:noinline
func baseLoop4(c *uint64) {
	for i := 0; i < 4; i++ {
		incr(c)
	}
}

//go:noinline
func baseThrower(c *uint64) { incr(c) }

//go:noinline
func basePanic1(c *uint64) { baseThrower(c) }

//go:noinline
func baseLevel(n int, c *uint64) {
	if n != 0 {
		baseLevel(n-1, c)
	}
	incr(c)
}

//go:noinline
func basePanic10(c *uint64) {
	baseLevel(9, c)
	incr(c)
}

// ---- defer ------------------------------------------------------------

//go:noinline
func defer1(c *uint64) {
	defer incr(c)
}

//go:noinline
func defer8(c *uint64) {
	defer incr(c)
	defer incr(c)
	defer incr(c)
	defer incr(c)
	defer incr(c)
	defer incr(c)
	defer incr(c)
	defer incr(c)
}

//go:noinline
func loop4(c *uint64) {
	for i := 0; i < 4; i++ {
		defer incr(c)
	}
}

// ---- panic / recover --------------------------------------------------

//go:noinline
func thrower(c *uint64) { panic("boom") }

//go:noinline
func panic1(c *uint64) {
	defer func() {
		if recover() != nil {
			*c++
		}
	}()
	thrower(c)
}

//go:noinline
func level(n int, c *uint64) {
	defer incr(c)
	if n == 0 {
		panic("boom")
	}
	level(n-1, c)
}

//go:noinline
func panic10(c *uint64) {
	defer func() {
		if recover() != nil {
			*c++
		}
	}()
	level(9, c)
}

//go:noinline
func throwerErr(c *uint64) { panic(errBoom) }

//go:noinline
func panic1e(c *uint64) {
	defer func() {
		if recover() != nil {
			*c++
		}
	}()
	throwerErr(c)
}

// ---- driver -----------------------------------------------------------

type benchCase struct {
	key     string
	perCall uint64
	base    func(*uint64)
	fn      func(*uint64)
}

var cases = []benchCase{
	{"defer1", 1, base1, defer1},
	{"defer8", 8, base8, defer8},
	{"loop4", 4, baseLoop4, loop4},
	{"panic1", 1, basePanic1, panic1},
	{"panic10", 11, basePanic10, panic10},
	{"panic1e", 1, basePanic1, panic1e},
}

var checksumTotal uint64

// measure doubles the iteration count until one timed loop lasts minDur;
// it returns ns per call of that loop.
func measure(what string, fn func(*uint64), perCall uint64, minDur time.Duration) (float64, uint64, uint64) {
	iters := uint64(64)
	for {
		var counter uint64
		t0 := time.Now()
		for i := uint64(0); i < iters; i++ {
			fn(&counter)
		}
		el := time.Since(t0)
		if counter != iters*perCall {
			fmt.Fprintf(os.Stderr, "bench_defer_go: checksum mismatch in %s: counter %d, expected %d\n",
				what, counter, iters*perCall)
			os.Exit(1)
		}
		checksumTotal += counter
		if el >= minDur {
			return float64(el.Nanoseconds()) / float64(iters), iters, counter
		}
		want := 16 * float64(iters)
		if el > 0 {
			want = float64(iters) * float64(minDur) * 1.2 / float64(el)
		}
		if want > 16*float64(iters) {
			want = 16 * float64(iters)
		}
		if want < 2*float64(iters) {
			want = 2 * float64(iters)
		}
		iters = uint64(want)
	}
}

func main() {
	minMS := flag.Float64("min-ms", 50, "minimum duration of one timed loop, ms")
	flag.Parse()
	minDur := time.Duration(*minMS * float64(time.Millisecond))
	for _, c := range cases {
		for _, v := range []struct {
			impl string
			fn   func(*uint64)
		}{{"gobase", c.base}, {"go", c.fn}} {
			ns, iters, sum := measure(v.impl+":"+c.key, v.fn, c.perCall, minDur)
			fmt.Printf("R %s %s %.3f %d %d\n", v.impl, c.key, ns, iters, sum)
		}
	}
	fmt.Printf("G checksum %d ok\n", checksumTotal)
}
