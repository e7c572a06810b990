package node

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"cairn/metadata"
	"cairn/transport"
)

// ListPrefixes implements transport.PrefixLister. A common prefix costs the
// node its entries up to the first live key under it and one seek, however
// many keys lie under it.
func (n *Node) ListPrefixes(ctx context.Context, req transport.PrefixListRequest) (*transport.ListPage, error) {
	if req.Delimiter == "" {
		return n.List(ctx, req.ListRequest)
	}
	if err := withCtx(ctx); err != nil {
		return nil, err
	}
	if req.Bucket == "" || req.Limit <= 0 {
		return nil, fmt.Errorf("list %s: %w", req.Bucket, transport.ErrInvalid)
	}
	lower := metadata.ObjectPrefix(req.Bucket, req.Prefix)
	it, err := n.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: successor(lower)})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", req.Bucket, err)
	}
	defer it.Close()
	// base is where the object key starts in a pebble key.
	base := len(lower) - len(req.Prefix)
	delim := []byte(req.Delimiter)
	valid := it.First()
	if after := metadata.ObjectRecordKey(req.Bucket, req.After); req.After != "" && bytes.Compare(after, lower) >= 0 {
		valid = it.SeekGE(append(after, 0))
	}
	page := &transport.ListPage{}
	var seek []byte
	for valid {
		if len(page.Entries) >= req.Limit {
			page.Truncated = true
			break
		}
		e, err := metadata.DecodeListEntry(it.Value())
		if err != nil {
			return nil, fmt.Errorf("list %s: record %q: %w: %v", req.Bucket, it.Key(), transport.ErrCorrupt, err)
		}
		page.Entries = append(page.Entries, e)
		i := bytes.Index(it.Key()[len(lower):], delim)
		if i < 0 || e.Deleted {
			valid = it.Next()
			continue
		}
		// e is this node's witness that its common prefix is live: the
		// Prefix entry follows it in the same page, then the rest of the
		// prefix is skipped with one seek. The entry aliases no pebble
		// memory, so the prefix is taken from its key.
		cp := e.Key[:len(req.Prefix)+i+len(delim)]
		page.Entries = append(page.Entries, metadata.ListEntry{Key: cp, Prefix: true})
		seek = append(append(append(seek[:0], lower[:base]...), cp...), 0xff)
		valid = it.SeekGE(seek)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("list %s: %w", req.Bucket, err)
	}
	return page, nil
}
