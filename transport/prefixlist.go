package transport

import "context"

// PrefixListRequest is a ListRequest with a delimiter: the node collapses
// the keys under each common prefix (Prefix up to and including the first
// Delimiter after it) instead of returning them all.
type PrefixListRequest struct {
	ListRequest
	Delimiter string
}

// PrefixLister is implemented by nodes that collapse common prefixes
// themselves, so that a delimited listing skips each prefix with one seek
// on the node instead of a page of its keys. The gateway type-asserts for
// it and falls back to List.
//
// For each common prefix the node returns its entries under the prefix in
// key order up to and including the first one that is live on this node
// (its witness), then an entry with Prefix set and Key the prefix, and then
// goes on after the prefix. The tombstones before the witness let the
// caller resolve the witness, and every key before it, against the other
// nodes; it knows nothing of the keys after the witness. A prefix with no
// live key on the node comes back in full, without a Prefix entry. Limit
// counts every entry, Prefix entries included, except that a page may hold
// one more so as never to end between a witness and its Prefix entry; the
// next page after a Prefix entry starts after every key under the prefix.
//
// After may name a key inside a common prefix (the caller resumes there
// after a witness turned out deleted): the node goes on with the keys after
// it under that prefix, in the same way.
type PrefixLister interface {
	ListPrefixes(ctx context.Context, req PrefixListRequest) (*ListPage, error)
}
