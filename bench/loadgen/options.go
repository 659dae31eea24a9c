package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// options are the flags of every mode; each mode reads the ones it needs.
type options struct {
	addr, listen       string
	concurrency        int
	duration, hold     time.Duration
	size               int
	bytes              int64
	plain              bool
	cert, key, ca, sni string
	serverTLS          string
	tls12, noResume    bool
}

func parseOptions(mode string, args []string) (options, error) {
	var o options
	var bytes string
	fs := flag.NewFlagSet("loadgen "+mode, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8443", "client: address to dial")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9000", "echo, sink: address to listen on (port 0: any)")
	fs.IntVar(&o.concurrency, "c", 16, "client: concurrent workers (hs, rr), connections (bulk, idle)")
	fs.DurationVar(&o.duration, "d", 5*time.Second, "hs, rr: how long to run")
	fs.IntVar(&o.size, "size", 64, "rr: bytes per request (the echo answers as many)")
	fs.StringVar(&bytes, "bytes", "256M", "bulk: bytes per connection, with an optional K, M or G suffix (powers of 1024)")
	fs.DurationVar(&o.hold, "hold", 10*time.Second, "idle: how long to hold the connections")
	fs.BoolVar(&o.plain, "plain", false, "client: dial plain TCP instead of TLS")
	fs.StringVar(&o.cert, "cert", "", "client: PEM certificate to present (with -key)")
	fs.StringVar(&o.key, "key", "", "client: PEM private key of -cert")
	fs.StringVar(&o.ca, "ca", "", "client: PEM roots to verify the server with (none: no verification); echo: roots for client certificates")
	fs.StringVar(&o.sni, "sni", "localhost", "client: server name to send and verify")
	fs.StringVar(&o.serverTLS, "tls", "", "echo: CERT,KEY to serve TLS with")
	fs.BoolVar(&o.tls12, "tls12", false, "client: TLS 1.2 at most")
	fs.BoolVar(&o.noResume, "noresume", true, "client: full handshakes only (-noresume=false resumes sessions)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
			os.Exit(0)
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.concurrency < 1 {
		return o, fmt.Errorf("-c %d: at least 1", o.concurrency)
	}
	n, err := parseSize(bytes)
	if err != nil {
		return o, err
	}
	o.bytes = n
	return o, nil
}

// parseSize reads 65536, 64K, 256M or 1G (binary multiples).
func parseSize(s string) (int64, error) {
	multiple := int64(1)
	digits := s
	if i := strings.IndexAny(s, "KMG"); i >= 0 && i == len(s)-1 {
		multiple = map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}[s[i]]
		digits = s[:i]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("-bytes %q: expected a size such as 65536, 64K, 256M or 1G", s)
	}
	return n * multiple, nil
}
