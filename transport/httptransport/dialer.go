package httptransport

import (
	"fmt"
	"net/http"
	"sync"

	"cairn/transport"
)

// Dialer is a transport.Dialer that finds nodes' addresses through resolve
// (membership, or a fixed table) and keeps one Client per node and address.
type Dialer struct {
	resolve func(id string) (addr string, ok bool)
	hc      *http.Client
	mu      sync.Mutex
	clients map[string]*Client
}

var _ transport.Dialer = (*Dialer)(nil)

// NewDialer returns a Dialer; hc is shared by every client it makes.
func NewDialer(resolve func(id string) (string, bool), hc *http.Client) *Dialer {
	return &Dialer{resolve: resolve, hc: hc, clients: make(map[string]*Client)}
}

// Node implements transport.Dialer.
func (d *Dialer) Node(id string) (transport.NodeClient, error) {
	addr, ok := d.resolve(id)
	if !ok || addr == "" {
		return nil, fmt.Errorf("httptransport: node %q: %w: address unknown", id, transport.ErrUnavailable)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.clients[id]
	if c == nil || c.base != "http://"+addr {
		c = NewClient(id, addr, d.hc)
		d.clients[id] = c
	}
	return c, nil
}
