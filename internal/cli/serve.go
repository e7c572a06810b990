package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve listens on every server's Addr first, so that a port already in
// use fails the start rather than a goroutine later, then serves them all
// until ctx ends or one fails, and shuts all of them down (10 s grace).
// Servers with an empty Addr are skipped; those with a TLSConfig serve
// HTTPS.
func Serve(ctx context.Context, servers ...*http.Server) error {
	var live []*http.Server
	var lns []net.Listener
	for _, s := range servers {
		if s == nil || s.Addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		if s.TLSConfig != nil {
			// Certificates come with the config (SecurityConfig.TLS), so
			// Serve rather than ServeTLS with file names.
			ln = tls.NewListener(ln, s.TLSConfig)
		}
		live, lns = append(live, s), append(lns, ln)
	}
	errc := make(chan error, len(live))
	for i, s := range live {
		go func() { errc <- s.Serve(lns[i]) }()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range live {
		err = errors.Join(err, s.Shutdown(shutdownCtx))
	}
	return err
}
