// Command helper plays a helper program for testproc's own tests: its one
// argument says how it behaves.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	switch os.Args[1] {
	case "ready": // ready, two more lines, then until stdin closes
		fmt.Println("starting")
		fmt.Println("ready at=here")
		fmt.Println("line 1")
		fmt.Println("line 2")
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "exit": // fails before it is ready
		fmt.Fprintln(os.Stderr, "boom: no config")
		os.Exit(3)
	case "silent": // never ready
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "stubborn": // ready, and ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
	}
}
