package main

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// serve accepts connections on -listen until killed, one goroutine per connection.
func serve(o options, handle func(net.Conn)) error {
	cfg, err := serverTLS(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	// The harness reads the port from this line when it asked for port 0.
	fmt.Fprintln(os.Stderr, "listening", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of descriptors, or a connection reset before it was accepted: carry on.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

// echo writes back what it reads until the peer closes its side.
func echo(c net.Conn) {
	buf := make([]byte, 32<<10)
	io.CopyBuffer(c, c, buf)
}

// sink reads an 8-byte big-endian length and that many bytes, then answers with the number of
// bytes it got and a newline: the sender knows all arrived without needing a half-close.
func sink(c net.Conn) {
	var header [8]byte
	if _, err := io.ReadFull(c, header[:]); err != nil {
		return
	}
	got, _ := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint64(header[:])))
	fmt.Fprintf(c, "%d\n", got)
}
