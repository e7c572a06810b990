package node

import (
	"encoding/json"
	"net/http"
)

// AdminHandler serves the node's status for operators and tests:
//
//	GET /admin/hints   hint debt per home (HintStats), JSON
//
// It is mounted apart from the transport routes.
func AdminHandler(n *Node) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.HintStats())
	})
	return mux
}
