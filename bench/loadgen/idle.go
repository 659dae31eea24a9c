package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// checkTimeout bounds the round trip that tells whether a held connection is still alive.
const checkTimeout = 5 * time.Second

type idleResult struct {
	Mode           string `json:"mode"`
	Opened         int    `json:"opened"`
	AliveAfterHold int    `json:"alive_after_hold"`
	Errors         int64  `json:"errors"`
	ErrorSample    string `json:"error_sample"`
}

// idle opens -c connections one after the other, each with a 1-byte round trip so that a tunnel
// has dialed its backend, says "READY n" on stderr (the harness measures memory then), holds
// them for -hold, and counts those that still echo a byte.
func idle(o options) (idleResult, error) {
	d, err := newDialer(o)
	if err != nil {
		return idleResult{}, err
	}
	var t tally
	held := make([]net.Conn, 0, o.concurrency)
	reply := make([]byte, 1)
	for i := 0; i < o.concurrency; i++ {
		c, err := d.dial()
		if err != nil {
			t.fail(err)
			continue
		}
		if err := roundTrip(c, []byte{'o'}, reply); err != nil {
			t.fail(err)
		}
		c.SetDeadline(time.Time{})
		held = append(held, c)
	}
	fmt.Fprintf(os.Stderr, "READY %d\n", len(held))
	time.Sleep(o.hold)
	alive := 0
	for _, c := range held {
		c.SetDeadline(time.Now().Add(checkTimeout))
		if _, err := c.Write([]byte{'k'}); err == nil {
			if _, err := io.ReadFull(c, reply); err == nil {
				alive++
			}
		}
		c.Close()
	}
	return idleResult{Mode: "idle", Opened: len(held), AliveAfterHold: alive, Errors: t.errors, ErrorSample: t.errorSample}, nil
}
