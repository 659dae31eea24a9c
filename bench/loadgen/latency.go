package main

import (
	"io"
	"net"
	"sync"
	"time"
)

// opTimeout bounds one operation's reads and writes on an established connection.
const opTimeout = 10 * time.Second

// pauseAfterError keeps a worker whose connections fail from spinning.
const pauseAfterError = 10 * time.Millisecond

// runWorkers starts -c workers, each given the run's deadline, and returns once all have ended
// with how long that took.
func runWorkers(o options, worker func(deadline time.Time)) time.Duration {
	start := time.Now()
	deadline := start.Add(o.duration)
	var wg sync.WaitGroup
	for i := 0; i < o.concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(deadline)
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// roundTrip writes msg and reads as many bytes back into reply.
func roundTrip(c net.Conn, msg, reply []byte) error {
	c.SetDeadline(time.Now().Add(opTimeout))
	if _, err := c.Write(msg); err != nil {
		return err
	}
	_, err := io.ReadFull(c, reply)
	return err
}

// handshakes: each operation opens a connection (a full handshake unless -noresume=false), echoes
// one byte through it, and closes it. A failed operation is counted and the worker carries on.
func handshakes(o options) (latencyResult, error) {
	d, err := newDialer(o)
	if err != nil {
		return latencyResult{}, err
	}
	var t tally
	elapsed := runWorkers(o, func(deadline time.Time) {
		msg, reply := []byte{'h'}, make([]byte, 1)
		var latencies []time.Duration
		for time.Now().Before(deadline) {
			began := time.Now()
			c, err := d.dial()
			if err == nil {
				err = roundTrip(c, msg, reply)
				c.Close()
			}
			if err != nil {
				t.fail(err)
				time.Sleep(pauseAfterError)
				continue
			}
			latencies = append(latencies, time.Since(began))
		}
		t.add(latencies)
	})
	return t.summary("hs", elapsed), nil
}

// requestResponse: each worker keeps one connection and sends -size bytes, waiting for the echo,
// until the deadline. A failure ends that worker's connection (its operations so far still count).
func requestResponse(o options) (latencyResult, error) {
	d, err := newDialer(o)
	if err != nil {
		return latencyResult{}, err
	}
	var t tally
	elapsed := runWorkers(o, func(deadline time.Time) {
		c, err := d.dial()
		if err != nil {
			t.fail(err)
			return
		}
		defer c.Close()
		msg, reply := make([]byte, o.size), make([]byte, o.size)
		for i := range msg {
			msg[i] = byte('a' + i%26)
		}
		latencies := make([]time.Duration, 0, 1<<14)
		for time.Now().Before(deadline) {
			began := time.Now()
			if err := roundTrip(c, msg, reply); err != nil {
				t.fail(err)
				break
			}
			latencies = append(latencies, time.Since(began))
		}
		t.add(latencies)
	})
	return t.summary("rr", elapsed), nil
}
