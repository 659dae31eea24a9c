package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ackTimeout is how long the sink may take to confirm an upload once the last byte is written.
const ackTimeout = 60 * time.Second

type bulkResult struct {
	Mode        string  `json:"mode"`
	Bytes       int64   `json:"bytes"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	MBps        float64 `json:"MBps"`
	ErrorSample string  `json:"error_sample"`
}

// bulk uploads -bytes on each of -c connections to a sink at once; MBps (10^6 bytes per second)
// counts the bytes the sink confirmed, over the time from the first dial to the last confirmation.
func bulk(o options) (bulkResult, error) {
	d, err := newDialer(o)
	if err != nil {
		return bulkResult{}, err
	}
	var t tally
	var mu sync.Mutex
	var delivered int64
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < o.concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := upload(d, o.bytes)
			if err != nil {
				t.fail(err)
			}
			mu.Lock()
			delivered += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return bulkResult{
		Mode:        "bulk",
		Bytes:       delivered,
		Errors:      t.errors,
		Seconds:     elapsed.Seconds(),
		MBps:        float64(delivered) / elapsed.Seconds() / 1e6,
		ErrorSample: t.errorSample,
	}, nil
}

// upload sends the sink's length header and `total` bytes, and returns how many the sink says it got.
func upload(d dialer, total int64) (int64, error) {
	c, err := d.dial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var header [8]byte
	binary.BigEndian.PutUint64(header[:], uint64(total))
	if _, err := c.Write(header[:]); err != nil {
		return 0, err
	}
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
	for left := total; left > 0; {
		n := int64(len(chunk))
		if left < n {
			n = left
		}
		if _, err := c.Write(chunk[:n]); err != nil {
			return 0, err
		}
		left -= n
	}
	return readAck(c, total)
}

func readAck(c net.Conn, total int64) (int64, error) {
	c.SetReadDeadline(time.Now().Add(ackTimeout))
	ack, err := io.ReadAll(io.LimitReader(c, 32))
	if err != nil && len(ack) == 0 {
		return 0, fmt.Errorf("no confirmation from the sink: %v", err)
	}
	got, perr := strconv.ParseInt(strings.TrimSpace(string(ack)), 10, 64)
	if perr != nil {
		return 0, fmt.Errorf("the sink answered %q, not a byte count", ack)
	}
	if got != total {
		return got, fmt.Errorf("the sink got %d of %d bytes", got, total)
	}
	return got, nil
}
