// SPDX-License-Identifier: MIT
//
// Go's runtime finds the vDSO through AT_SYSINFO_EHDR and calls its
// clock_gettime for time.Now() and the monotonic clock, on goroutines spread
// over several threads. Prints whether the runtime found the vDSO's
// clock_gettime and whether time went forward (never the times).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
	_ "unsafe" // go:linkname
)

// The address of __vdso_clock_gettime the runtime found (runtime/vdso_linux_amd64.go,
// Go 1.19; 0 when the auxv names no vDSO and the runtime makes syscalls).
//
//go:linkname vdsoClockgettimeSym runtime.vdsoClockgettimeSym
var vdsoClockgettimeSym uintptr

func main() {
	runtime.GOMAXPROCS(2)
	fmt.Printf("runtime found __vdso_clock_gettime: %v\n", vdsoClockgettimeSym != 0)
	var wg sync.WaitGroup
	results := make([]bool, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ok := true
			prev := time.Now()
			for i := 0; i < 200; i++ {
				now := time.Now()
				if now.Sub(prev) < 0 {
					ok = false
				}
				prev = now
				if i%50 == 0 {
					runtime.Gosched()
				}
			}
			results[g] = ok
		}(g)
	}
	wg.Wait()
	start := time.Now()
	time.Sleep(2 * time.Millisecond)
	slept := time.Since(start)
	allOK := true
	for g, ok := range results {
		fmt.Printf("goroutine %d: time forward: %v\n", g, ok)
		allOK = allOK && ok
	}
	fmt.Printf("sleep 2ms measured at least 2ms: %v\n", slept >= 2*time.Millisecond)
	fmt.Printf("wall clock year plausible: %v\n", time.Now().Year() >= 2024)
	if !allOK || slept < 2*time.Millisecond {
		os.Exit(1)
	}
}
