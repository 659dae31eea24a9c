package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// dialTimeout bounds the TCP connect and the TLS handshake of one connection.
const dialTimeout = 10 * time.Second

// dialer opens client connections to the subject, TLS or plain.
type dialer struct {
	addr string
	tls  *tls.Config // nil: plain TCP
}

func newDialer(o options) (dialer, error) {
	if o.plain {
		return dialer{addr: o.addr}, nil
	}
	cfg := &tls.Config{ServerName: o.sni}
	if o.tls12 {
		cfg.MaxVersion = tls.VersionTLS12
	}
	if o.noResume {
		cfg.SessionTicketsDisabled = true
	} else {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	if o.cert != "" || o.key != "" {
		pair, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return dialer{}, fmt.Errorf("-cert %s -key %s: %v", o.cert, o.key, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if o.ca != "" {
		roots, err := loadRoots(o.ca)
		if err != nil {
			return dialer{}, err
		}
		cfg.RootCAs = roots
	} else {
		cfg.InsecureSkipVerify = true
	}
	return dialer{addr: o.addr, tls: cfg}, nil
}

// dial connects and, for TLS, completes the handshake before returning.
func (d dialer) dial() (net.Conn, error) {
	nd := net.Dialer{Timeout: dialTimeout}
	if d.tls == nil {
		return nd.Dial("tcp", d.addr)
	}
	return tls.DialWithDialer(&nd, "tcp", d.addr, d.tls)
}

// serverTLS is the echo backend's TLS configuration from -tls CERT,KEY and -ca; nil without -tls.
// A client certificate is asked for and, when one comes, verified against -ca.
func serverTLS(o options) (*tls.Config, error) {
	if o.serverTLS == "" {
		return nil, nil
	}
	certFile, keyFile, ok := strings.Cut(o.serverTLS, ",")
	if !ok {
		return nil, fmt.Errorf("-tls %q: expected CERT,KEY", o.serverTLS)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("-tls %s: %v", o.serverTLS, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}}
	if o.ca != "" {
		roots, err := loadRoots(o.ca)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = roots
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

func loadRoots(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-ca: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-ca %s: no PEM certificate in it", path)
	}
	return pool, nil
}
