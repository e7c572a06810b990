package httptransport

import (
	"encoding/json"
	"net/http"

	"cairn/transport"
)

// Routes of transport.NodeAdmin. Stats travel as JSON: they are small,
// asked for seldom, and their fields grow.
const (
	pathNodeStats = "/v1/admin/stats"
	pathStartScan = "/v1/admin/scan"
)

// registerAdmin adds the NodeAdmin routes if the node has them.
func (h *Handler) registerAdmin() {
	na, ok := h.node.(transport.NodeAdmin)
	if !ok {
		return
	}
	h.mux.HandleFunc("GET "+pathNodeStats, func(w http.ResponseWriter, r *http.Request) {
		st, err := na.NodeStats(r.Context())
		var body []byte
		if err == nil {
			body, err = json.Marshal(st)
		}
		if err != nil {
			h.fail(w, r, "node stats", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	h.mux.HandleFunc("POST "+pathStartScan, func(w http.ResponseWriter, r *http.Request) {
		h.noContent(w, r, "start scan", na.StartScan(r.Context()))
	})
}
