// Command gortgolden reproduces, in Go, each crash scenario of
// tests/crash/crashers.c, so that tests/golden/regen.sh can record Go's
// own output as the golden text gort must match.  Function names match
// the C scenario functions one for one (the normaliser drops "main.").
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

var sink *int

func panicSimple() {
	panic("boom")
}

func nestedSecond() {
	panic("second")
}

func panicNested() {
	defer nestedSecond()
	panic("first")
}

func recoverThenPanic() {
	recover()
	panic("second")
}

func panicRecoveredRepanic() {
	defer recoverThenPanic()
	panic("first")
}

var errUser = errors.New("user error value")

func panicErrorValue() {
	panic(errUser)
}

func goroutineWorker() {
	panic("in goroutine")
}

func panicInGoroutine() {
	go goroutineWorker()
	time.Sleep(10 * time.Second)
}

// A goroutine panics while main returns: Go's runtime.main waits for the
// panicking goroutine, which ends the program with its report (go.dev/issue/3934).
var workerPanicking = make(chan struct{})

func signalMain() {
	close(workerPanicking)
}

func panickingWorker() {
	defer signalMain()
	panic("while main returns")
}

func panicInGoroutineAsMainReturns() {
	go panickingWorker()
	<-workerPanicking
}

// sync.Once.Do(nil): the call of the nil func faults.
func onceNilFunc() {
	var o sync.Once
	o.Do(nil)
}

// The starting function's last statement is the go statement (in C, a
// tail call the compiler may turn into a jump).
func tailWorker() {
	panic("started by a tail call")
}

func tailStarter() {
	go tailWorker()
}

func goFromTailCall() {
	go tailStarter()
	time.Sleep(10 * time.Second)
}

// A panic 201 frames deep (Go 1.21 elides the middle of the traceback).
func deepRecursion(n int) {
	if n == 0 {
		panic("deep")
	}
	deepRecursion(n - 1)
}

func nilFuncDeferred() {
	var nilf func()
	defer nilf()
}

func nilDeref() {
	*sink = 1
}

func deferredPrint() {
	println("deferred call ran")
}

func goexitMain() {
	defer deferredPrint()
	runtime.Goexit()
}

// ---- Fatal signals -------------------------------------------------

func derefDeferred() {
	*sink = 1
}

// A nil dereference inside a deferred call run by a panic: the fault is
// a second panic, printed after the first, then the signal line.
func nilDerefInDeferred() {
	defer derefDeferred()
	panic("first")
}

var nilFn func()

// A call through a nil function value.
func nilFuncCall() {
	nilFn()
}

var one, zero = 1, 0

// Integer division by zero.  Go checks the divisor in code: no
// "[signal" line (C traps, so gort's golden is hand-written).
func divideByZero() {
	sinkInt = one / zero
}

var sinkInt int

var badAddr uintptr = 0xdead

// A fault at a non-nil address: Go throws "fault".  (go vet's "possible
// misuse of unsafe.Pointer" is the point.)
func badAddress() {
	*(*int)(unsafe.Pointer(badAddr)) = 1
}

// Infinite recursion: no golden file (the traceback is capped), kept as
// the C scenario's twin.
func stackOverflow() byte {
	var buf [1024]byte
	return buf[0] + stackOverflow()
}

func deferredNothing() {
}

// An unrecovered nil dereference in a function with a deferred call
// (gort: with gort_signal_panics(true), the deferred call runs).
func nilDerefWithDefer() {
	defer deferredNothing()
	*sink = 1
}

// ---- Ports of runtime/crash_test.go (testdata/testprog) ---------------

func recursivePanic3Recover() {
	recover()
}

func recursivePanic3Deferred() {
	defer recursivePanic3Recover()
	panic("second panic")
}

// testprog RecursivePanic3: the first panic finishes as a panic though
// the second was recovered.
func recursivePanic3() {
	defer recursivePanic3Deferred()
	panic("first panic")
}

func recursivePanic4Deferred() {
	recover()
	panic("second panic")
}

// testprog RecursivePanic4: one deferred call recovers the first panic
// and starts a second: "[recovered]".
func recursivePanic4() {
	defer recursivePanic4Deferred()
	panic("first panic")
}

type P string

func (p P) String() string {
	// Try to free the "YYY" string header when the "XXX"
	// panic is stringified (testprog's comment).
	runtime.GC()
	runtime.GC()
	runtime.GC()
	return string(p)
}

func doublePanicDeferred() {
	panic(P("YYY"))
}

// testprog DoublePanic (issue 30150): neither message is clobbered.
func doublePanic() {
	defer doublePanicDeferred()
	panic(P("XXX"))
}

func panicHello() {
	panic("hello")
}

// testprog PanicAfterGoexit: an uncaught panic still works after Goexit.
func panicAfterGoexit() {
	defer panicHello()
	runtime.Goexit()
}

func goexitExitSleeper() {
	time.Sleep(time.Millisecond)
}

// testprog GoexitExit (TestGoexitCrash).
func goexitExit() {
	println("t1")
	go goexitExitSleeper()
	i := 0
	println("t2")
	runtime.SetFinalizer(&i, func(p *int) {})
	println("t3")
	runtime.GC()
	println("t4")
	runtime.Goexit()
}

func goexitDeadlockF() {
	for i := 0; i < 10; i++ {
	}
}

// testprog GoexitDeadlock.
func goexitDeadlock() {
	go goexitDeadlockF()
	go goexitDeadlockF()
	runtime.Goexit()
}

func goexitDeferred() {
	runtime.Goexit()
}

func goexitInPanicWorker() {
	defer goexitDeferred()
	panic("hello")
}

// testprog GoexitInPanic (issue 8774).
func goexitInPanic() {
	go goexitInPanicWorker()
	runtime.Goexit()
}

func mustRecover() {
	r := recover()
	if r == nil {
		panic("bad recover")
	}
}

func panicHelloRecovered() {
	defer mustRecover()
	panic("hello")
}

// testprog RecoveredPanicAfterGoexit.
func recoveredPanicAfterGoexit() {
	defer panicHelloRecovered()
	runtime.Goexit()
}

// testprog RecoverBeforePanicAfterGoexit.
func recoverBeforePanicAfterGoexit() {
	defer mustRecover()
	defer panicHello()
	runtime.Goexit()
}

// testprog RecoverBeforePanicAfterGoexit2.
func recoverBeforePanicAfterGoexit2() {
	for i := 0; i < 2; i++ {
		defer deferredNothing()
	}
	defer mustRecover()
	defer panicHello()
	runtime.Goexit()
}

func recoverNothing() {
	recover()
}

// testprog GoNil.
func goNil() {
	defer recoverNothing()
	var f func()
	go f()
	select {}
}

// testprog MainGoroutineID.
func mainGoroutineID() {
	panic("test")
}

// A message longer than any inline buffer.
func panicLongMessage() {
	msg := "long:"
	for i := 0; i < 40; i++ {
		msg += " 0123456789"
	}
	panic(msg)
}

var errWorker = errors.New("error value in a goroutine")

func errorWorker() {
	panic(errWorker)
}

// An error value panicking in a goroutine: "created by".
func panicErrorInGoroutine() {
	go errorWorker()
	time.Sleep(10 * time.Second)
}

// Text written to stdout before a panic comes out before the report.
func panicAfterStdout() {
	fmt.Print("stdout text before the panic\n")
	panic("after stdout")
}

// ---- Maps ----------------------------------------------------------

// The design notes' first scenario: a nil map written inside a deferred
// call.
var nilMap map[string]int64

func writeNilMap() {
	nilMap["key"] = 1
}

func nilMapWriteDeferred() {
	defer writeNilMap()
}

// Concurrent misuse: goroutines race on raceMap, updating its eight
// keys (no growth).  Go 1.19 reports them with fatal and prints every
// goroutine; regen.sh keeps the detecting one, as gort prints it
// (README.md).
var raceMap map[string]int64
var raceKeys = []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
var raceDone sync.WaitGroup
var raceSink int64

const raceSeconds = 20 * time.Second

func raceMapInit() {
	raceMap = make(map[string]int64, 8)
	for i, k := range raceKeys {
		raceMap[k] = int64(i)
	}
}

func raceMapWait() {
	raceDone.Wait()
	println("no detection")
	os.Exit(1)
}

func mapWriter() {
	deadline := time.Now().Add(raceSeconds)
	for i := 0; time.Now().Before(deadline); i++ {
		raceMap[raceKeys[i&7]] = int64(i)
	}
	raceDone.Done()
}

func mapReader() {
	deadline := time.Now().Add(raceSeconds)
	for i := 0; time.Now().Before(deadline); i++ {
		raceSink += raceMap[raceKeys[i&7]]
	}
	raceDone.Done()
}

func mapIterator() {
	deadline := time.Now().Add(raceSeconds)
	for time.Now().Before(deadline) {
		for _, v := range raceMap {
			raceSink += v
		}
	}
	raceDone.Done()
}

func concurrentMapWrites() {
	raceMapInit()
	raceDone.Add(2)
	go mapWriter()
	go mapWriter()
	raceMapWait()
}

func concurrentMapReadWrite() {
	raceMapInit()
	raceDone.Add(2)
	go mapReader()
	go mapWriter()
	raceMapWait()
}

func concurrentMapIterWrite() {
	raceMapInit()
	raceDone.Add(2)
	go mapIterator()
	go mapWriter()
	raceMapWait()
}

// sync misuse (sync/mutex_test.go TestMutexMisuse): fatal errors, the
// deferred recover does not stop them.
func mutexUnlock() {
	defer recoverNothing()
	var mu sync.Mutex
	mu.Unlock()
}

func mutexUnlock2() {
	defer recoverNothing()
	var mu sync.Mutex
	mu.Lock()
	mu.Unlock()
	mu.Unlock()
}

func rwmutexUnlock() {
	defer recoverNothing()
	var mu sync.RWMutex
	mu.Unlock()
}

func rwmutexUnlock2() {
	defer recoverNothing()
	var mu sync.RWMutex
	mu.RLock()
	mu.Unlock()
}

func rwmutexUnlock3() {
	defer recoverNothing()
	var mu sync.RWMutex
	mu.Lock()
	mu.Unlock()
	mu.Unlock()
}

func rwmutexRUnlock() {
	defer recoverNothing()
	var mu sync.RWMutex
	mu.RUnlock()
}

func rwmutexRUnlock2() {
	defer recoverNothing()
	var mu sync.RWMutex
	mu.Lock()
	mu.RUnlock()
}

func rwmutexRUnlock3() {
	defer recoverNothing()
	var mu sync.RWMutex
	mu.RLock()
	mu.RUnlock()
	mu.RUnlock()
}

// Locked by main, unlocked twice by another goroutine.
var handedMutex sync.Mutex
var handedDone sync.WaitGroup

func unlockTwiceElsewhere() {
	handedMutex.Unlock()
	handedMutex.Unlock()
	handedDone.Done()
}

func mutexUnlockInGoroutine() {
	handedMutex.Lock()
	handedDone.Add(1)
	go unlockTwiceElsewhere()
	handedDone.Wait()
}

// Once.Do called from inside its own function: Go's doSlow waits for the
// mutex it holds, and with no other goroutine left checkdead reports
// "all goroutines are asleep - deadlock!" for a goroutine in semacquire.
var recursiveOnce sync.Once

func onceRecursiveInner() {}

func onceRecursiveFn() {
	recursiveOnce.Do(onceRecursiveInner)
}

func onceRecursive() {
	recursiveOnce.Do(onceRecursiveFn)
}

// The same while another goroutine still runs: the deadlock is reported
// once it has ended.
func sleepAWhile() {
	time.Sleep(200 * time.Millisecond)
}

func onceRecursiveAfterGoroutines() {
	go sleepAWhile()
	recursiveOnce.Do(onceRecursiveFn)
}

// A goroutine whose Once function calls Do on the same Once is parked for
// ever, asleep: when main then deadlocks too, or calls Goexit, checkdead
// finds every goroutine asleep and reports the deadlock instead of
// waiting for the parked one.
var goroutineOnce sync.Once

func onceRecursiveGoroutineFn() {
	goroutineOnce.Do(onceRecursiveInner)
}

func onceRecursiveGoroutine() {
	goroutineOnce.Do(onceRecursiveGoroutineFn)
}

func onceRecursiveInGoroutineThenGoexit() {
	go onceRecursiveGoroutine()
	runtime.Goexit()
}

func onceRecursiveInGoroutineAndMain() {
	go onceRecursiveGoroutine()
	recursiveOnce.Do(onceRecursiveFn)
}

func main() {
	switch os.Args[1] {
	case "panic_simple":
		panicSimple()
	case "panic_nested":
		panicNested()
	case "panic_recovered_repanic":
		panicRecoveredRepanic()
	case "panic_error_value":
		panicErrorValue()
	case "panic_in_goroutine":
		panicInGoroutine()
	case "panic_in_goroutine_as_main_returns":
		panicInGoroutineAsMainReturns()
	case "once_nil_func":
		onceNilFunc()
	case "once_recursive":
		onceRecursive()
	case "once_recursive_after_goroutines":
		onceRecursiveAfterGoroutines()
	case "once_recursive_in_goroutine_then_goexit":
		onceRecursiveInGoroutineThenGoexit()
	case "once_recursive_in_goroutine_and_main":
		onceRecursiveInGoroutineAndMain()
	case "go_from_tail_call":
		goFromTailCall()
	case "deep_recursion":
		deepRecursion(200)
	case "nil_func_deferred":
		nilFuncDeferred()
	case "nil_deref":
		nilDeref()
	case "goexit_main":
		goexitMain()
	case "nil_deref_in_deferred":
		nilDerefInDeferred()
	case "nil_func_call":
		nilFuncCall()
	case "divide_by_zero":
		divideByZero()
	case "bad_address":
		badAddress()
	case "stack_overflow":
		stackOverflow()
	case "nil_deref_with_defer":
		nilDerefWithDefer()
	case "recursive_panic3":
		recursivePanic3()
	case "recursive_panic4":
		recursivePanic4()
	case "double_panic":
		doublePanic()
	case "panic_after_goexit":
		panicAfterGoexit()
	case "goexit_exit":
		goexitExit()
	case "goexit_deadlock":
		goexitDeadlock()
	case "goexit_in_panic":
		goexitInPanic()
	case "recovered_panic_after_goexit":
		recoveredPanicAfterGoexit()
	case "recover_before_panic_after_goexit":
		recoverBeforePanicAfterGoexit()
	case "recover_before_panic_after_goexit2":
		recoverBeforePanicAfterGoexit2()
	case "go_nil":
		goNil()
	case "main_goroutine_id":
		mainGoroutineID()
	case "panic_long_message":
		panicLongMessage()
	case "panic_error_in_goroutine":
		panicErrorInGoroutine()
	case "panic_after_stdout":
		panicAfterStdout()
	case "nil_map_write_deferred":
		nilMapWriteDeferred()
	case "concurrent_map_writes":
		concurrentMapWrites()
	case "concurrent_map_read_write":
		concurrentMapReadWrite()
	case "concurrent_map_iter_write":
		concurrentMapIterWrite()
	case "sync_mutex_unlock":
		mutexUnlock()
	case "sync_mutex_unlock2":
		mutexUnlock2()
	case "sync_rwmutex_unlock":
		rwmutexUnlock()
	case "sync_rwmutex_unlock2":
		rwmutexUnlock2()
	case "sync_rwmutex_unlock3":
		rwmutexUnlock3()
	case "sync_rwmutex_runlock":
		rwmutexRUnlock()
	case "sync_rwmutex_runlock2":
		rwmutexRUnlock2()
	case "sync_rwmutex_runlock3":
		rwmutexRUnlock3()
	case "sync_mutex_unlock_in_goroutine":
		mutexUnlockInGoroutine()
	}
}
