// Package layoutstore holds the cluster's layout as one process knows it:
// the applied placement.Layout, the change staged for the next one, and the
// epoch that orders them. Every node stores the document on its disk; every
// gateway and node adopts the newest one it hears of by gossip. Changing
// the layout is proposing a document with a higher epoch (admin API); the
// newest epoch wins everywhere, ties broken by the encoded bytes so that all
// members pick the same one.
package layoutstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"cairn/placement"
)

// Document is what the cluster agrees on about its shape.
type Document struct {
	// Epoch orders documents: every change, staged or applied, takes the
	// next one.
	Epoch uint64 `json:"epoch"`
	// Homes is the number of homes per placement group: the cluster's k+m.
	Homes int `json:"homes"`
	// Layout is the applied layout: where new writes go and what the
	// scanners rebalance towards.
	Layout *placement.Layout `json:"layout"`
	// Staged, when not nil, is the node list of the next layout, waiting
	// for an apply.
	Staged []placement.Node `json:"staged,omitempty"`
}

// Validate checks the document a member is about to adopt.
func (d *Document) Validate() error {
	if d == nil || d.Layout == nil {
		return errors.New("layout document: no layout")
	}
	var errs []error
	if d.Epoch == 0 {
		errs = append(errs, errors.New("layout document: epoch 0"))
	}
	if d.Homes < 1 {
		errs = append(errs, fmt.Errorf("layout document: %d homes per PG", d.Homes))
	}
	if err := d.Layout.Validate(); err != nil {
		errs = append(errs, err)
	}
	if d.Staged != nil {
		staged := placement.Layout{Version: d.Layout.Version + 1, PGCount: d.Layout.PGCount, Nodes: d.Staged}
		if err := staged.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("staged: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Encode returns the document's canonical encoding.
func (d *Document) Encode() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic("layoutstore: encode: " + err.Error()) // plain data: cannot fail
	}
	return b
}

// Decode parses and validates an encoded document.
func Decode(b []byte) (*Document, error) {
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("layout document: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// newer reports whether a should replace b.
func newer(a, b *Document) bool {
	if b == nil {
		return true
	}
	if a.Epoch != b.Epoch {
		return a.Epoch > b.Epoch
	}
	return bytes.Compare(a.Encode(), b.Encode()) > 0
}

// Clone returns a deep copy that the caller may change.
func (d *Document) Clone() *Document {
	c, err := Decode(d.Encode())
	if err != nil {
		panic("layoutstore: clone of an invalid document: " + err.Error())
	}
	return c
}

// Store is one process's copy of the document.
type Store struct {
	path    string // "" keeps it in memory only (gateways)
	mu      sync.Mutex
	cur     atomic.Pointer[Document]
	watch   []func(*Document)
	publish func(*Document)
}

// FileName is where a node keeps the document in its data directory.
const FileName = "layout.json"

// Open returns a store that starts from the document saved at path, or
// from initial (epoch 1, the configured layout) when there is none or
// the saved one is older. An empty path keeps the store in memory.
func Open(path string, initial *placement.Layout, homes int) (*Store, error) {
	s := &Store{path: path}
	first := &Document{Epoch: 1, Homes: homes, Layout: initial}
	if err := first.Validate(); err != nil {
		return nil, err
	}
	s.cur.Store(first)
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, s.save(first)
	case err != nil:
		return nil, fmt.Errorf("layout store: %w", err)
	}
	saved, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("layout store %s: %w", path, err)
	}
	if newer(saved, first) {
		s.cur.Store(saved)
	}
	return s, nil
}

// Current returns the document in use. Callers must not change it.
func (s *Store) Current() *Document { return s.cur.Load() }

// Layout returns the applied layout. Callers must not change it.
func (s *Store) Layout() *placement.Layout { return s.cur.Load().Layout }

// Watch registers fn to be called, in order with other changes, with every
// document the store adopts after this call.
func (s *Store) Watch(fn func(*Document)) {
	s.mu.Lock()
	s.watch = append(s.watch, fn)
	s.mu.Unlock()
}

// Publish sets how adopted documents are spread (membership.SetState), and
// publishes the current one at once.
func (s *Store) Publish(fn func(*Document)) {
	s.mu.Lock()
	s.publish = fn
	cur := s.cur.Load()
	s.mu.Unlock()
	fn(cur)
}

// Offer adopts an encoded document if it is newer than the current one,
// and reports whether it did.
func (s *Store) Offer(b []byte) (bool, error) {
	d, err := Decode(b)
	if err != nil {
		return false, err
	}
	return s.adopt(d)
}

// ErrStale is returned by Propose for a document that is not newer than
// the current one: someone else changed the layout first.
var ErrStale = errors.New("layout store: a newer layout exists")

// Propose adopts d, which must be newer than the current document, saves
// it and spreads it.
func (s *Store) Propose(d *Document) error {
	if err := d.Validate(); err != nil {
		return err
	}
	ok, err := s.adopt(d)
	if err != nil {
		return err
	}
	if !ok {
		return ErrStale
	}
	return nil
}

func (s *Store) adopt(d *Document) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	if !newer(d, cur) {
		return false, nil
	}
	if cur != nil && d.Layout.PGCount != cur.Layout.PGCount {
		return false, fmt.Errorf("layout store: epoch %d has %d PGs, the cluster has %d", d.Epoch, d.Layout.PGCount, cur.Layout.PGCount)
	}
	if err := s.save(d); err != nil {
		return false, err
	}
	s.cur.Store(d)
	for _, fn := range s.watch {
		fn(d)
	}
	if s.publish != nil {
		s.publish(d)
	}
	return true, nil
}

// save writes d durably: temp file, fsync, rename, fsync of the directory.
func (s *Store) save(d *Document) error {
	if s.path == "" {
		return nil
	}
	dir := filepath.Dir(s.path)
	f, err := os.CreateTemp(dir, ".layout-*")
	if err != nil {
		return fmt.Errorf("layout store: %w", err)
	}
	_, werr := f.Write(d.Encode())
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("layout store: %w", err)
	}
	if err := os.Rename(f.Name(), s.path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("layout store: %w", err)
	}
	dh, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("layout store: %w", err)
	}
	defer dh.Close()
	return dh.Sync()
}

// Stage returns a document with nodes staged as the next layout.
func (d *Document) Stage(nodes []placement.Node) *Document {
	next := d.Clone()
	next.Epoch++
	next.Staged = slices.Clone(nodes)
	return next
}

// Apply returns the document whose layout is the staged one, with a table
// that moves as little as possible (placement.Next), and nothing staged.
func (d *Document) Apply() (*Document, error) {
	if d.Staged == nil {
		return nil, errors.New("layout: nothing staged")
	}
	l, err := placement.Next(d.Layout, d.Staged, d.Homes)
	if err != nil {
		return nil, err
	}
	return &Document{Epoch: d.Epoch + 1, Homes: d.Homes, Layout: l}, nil
}

// Next returns the nodes the next layout starts from: the staged ones, or
// the applied ones when nothing is staged.
func (d *Document) Next() []placement.Node {
	if d.Staged != nil {
		return slices.Clone(d.Staged)
	}
	return slices.Clone(d.Layout.Nodes)
}
