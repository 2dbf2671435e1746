//go:build tools

// Package tools pins the upstream command this module builds (see build.sh).
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
