//go:build tools

// Package tools pins the upstream commands this module builds (see build.sh).
package tools

import (
	_ "gvisor.dev/gvisor/runsc"
	_ "gvisor.dev/gvisor/shim"
)
