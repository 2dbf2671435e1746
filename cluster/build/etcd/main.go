// Command etcd is upstream etcd's server entry point. Debian's etcd-server (3.4)
// is older than Kubernetes 1.34 supports, and etcd's root module carries replace
// directives that 'go install pkg@version' refuses, so this wrapper calls it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
