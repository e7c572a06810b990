package node

import (
	"encoding/json"
	"net/http"
)

// AdminHandler serves the node's status for operators and tests:
//
//	GET /admin/hints   hint debt per home (HintStats), JSON
//	GET /admin/lifecycle  lifecycle progress per bucket (LifecycleStats)
//	                      and tombstone GC counters (TombstoneStats), JSON
//
// It is mounted apart from the transport routes.
func AdminHandler(n *Node) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.HintStats())
	})
	mux.HandleFunc("GET /admin/lifecycle", func(w http.ResponseWriter, r *http.Request) {
		buckets, err := n.LifecycleStats()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(struct {
			Buckets    map[string]LifecycleStat `json:"buckets"`
			Tombstones TombstoneStats           `json:"tombstones"`
		}{buckets, n.TombstoneStats()})
	})
	return mux
}
