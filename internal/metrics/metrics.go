// Package metrics holds what the admin listener of a gateway or a node
// serves apart from the S3 and transport ports: Prometheus metrics from an
// injected registry, the liveness and readiness checks, and the disk usage
// collector both roles share.
//
// Nothing here registers on prometheus.DefaultRegisterer: cmd/ builds one
// registry per process (NewRegistry), hands it to gateway.Config.Metrics or
// node.Config.Metrics, and serves it with NewAdminMux.
//
//	reg := metrics.NewRegistry()
//	gw, err := gateway.New(gateway.Config{…, Metrics: reg})
//	mux := metrics.NewAdminMux(reg, nil, gw.Ready)
//	go http.ListenAndServe("127.0.0.1:9001", mux)
package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a fresh registry holding the Go runtime and process
// collectors, the base every Cairn process exports.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Check reports whether a process is healthy in one respect; nil means yes.
type Check func(ctx context.Context) error

// checkTimeout bounds a health check, so that a probe never hangs on a
// stuck dependency: a check that cannot answer in time is a failed check.
const checkTimeout = 5 * time.Second

// NewAdminMux returns a mux serving
//
//	GET /metrics        the registry, Prometheus text or OpenMetrics
//	GET /health/live    200 while the process is serving; live may be nil
//	GET /health/ready   200 when ready takes traffic, else 503 and the reason
//
// Callers add their own admin routes to the returned mux.
func NewAdminMux(g prometheus.Gatherer, live, ready Check) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.Handle("GET /health/live", healthHandler(live))
	mux.Handle("GET /health/ready", healthHandler(ready))
	return mux
}

// health is the body of a health answer.
type health struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func healthHandler(check Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if check != nil {
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			err = check(ctx)
			cancel()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		h := health{Status: "ok"}
		if err != nil {
			h = health{Status: "unavailable", Error: err.Error()}
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(h)
	})
}
