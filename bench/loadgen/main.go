// Command loadgen is the benchmark's load generator and its backends: a Go client independent of
// Node.js and of the tunnel under test, and the direct TLS echo the tunnel's figures are divided by.
//
//	loadgen echo -listen ADDR [-tls CERT,KEY [-ca CA]]   echo backend (TLS when -tls is given)
//	loadgen sink -listen ADDR                            length-prefixed upload sink, answers the byte count
//	loadgen hs   -addr ADDR -c N -d DUR                  a new connection and a 1-byte echo per operation
//	loadgen rr   -addr ADDR -c N -d DUR -size N          request/response on N kept connections
//	loadgen bulk -addr ADDR -c N -bytes SIZE             one-way upload of SIZE per connection to a sink
//	loadgen idle -addr ADDR -c N -hold DUR               opens N connections, holds them, checks them
//
// Client modes dial TLS (-cert/-key: client certificate; -ca: trusted roots, else no verification;
// -sni; -tls12; -noresume) or, with -plain, plain TCP. Each prints one JSON object on stdout;
// servers print "listening ADDR" and idle prints "READY N" on stderr.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

const usage = "usage: loadgen echo|sink|hs|rr|bulk|idle [flags] (loadgen MODE -h lists the flags)"

func main() {
	if len(os.Args) < 2 {
		exit(fmt.Errorf(usage))
	}
	mode := os.Args[1]
	opts, err := parseOptions(mode, os.Args[2:])
	if err != nil {
		exit(err)
	}
	var result interface{}
	switch mode {
	case "echo":
		err = serve(opts, echo)
	case "sink":
		err = serve(opts, sink)
	case "hs":
		result, err = handshakes(opts)
	case "rr":
		result, err = requestResponse(opts)
	case "bulk":
		result, err = bulk(opts)
	case "idle":
		result, err = idle(opts)
	default:
		err = fmt.Errorf("unknown mode %q; %s", mode, usage)
	}
	if err != nil {
		exit(err)
	}
	line, err := json.Marshal(result)
	if err != nil {
		exit(err)
	}
	fmt.Println(string(line))
}

func exit(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}
