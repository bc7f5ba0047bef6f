package main

import (
	"fmt"
	"io"
)

func runSpool(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "capstan spool: not implemented yet")
	return 2
}
