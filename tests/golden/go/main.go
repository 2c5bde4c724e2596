// Command gortgolden reproduces, in Go, each crash scenario of
// tests/crash/crashers.c, so that tests/golden/regen.sh can record Go's
// own output as the golden text gort must match.  Function names match
// the C scenario functions one for one (the normaliser drops "main.").
package main

import (
	"errors"
	"os"
	"runtime"
	"time"
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
	case "nil_func_deferred":
		nilFuncDeferred()
	case "nil_deref":
		nilDeref()
	case "goexit_main":
		goexitMain()
	}
}
