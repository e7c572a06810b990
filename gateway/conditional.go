package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cairn/internal/s3api"
	"cairn/metadata"
	"cairn/transport"
)

// Conditional writes (If-None-Match: * and If-Match on PUT, CopyObject and
// CompleteMultipartUpload) are decided by the homes, not by the gateway.
// The gateway checks the condition against a read quorum first (a cheap
// early 412), then sends the record with the condition to every home. Each
// home decides atomically under its key lock and keeps the record it
// displaced. The write stands only if a metadata write quorum of homes
// accepted it; two writers whose conditions conflict cannot both gather
// one, because write quorums intersect and a home that accepted one has
// changed its current record so that it refuses the other. A writer that
// fails rolls back: every home that accepted it restores the record it
// displaced, if the write is still current there. See docs/architecture.md,
// "Conditional writes".

func hexString(b []byte) string { return hex.EncodeToString(b) }

// writeCondition turns a write's If-None-Match / If-Match into the
// condition for the homes, after checking it against the current version.
// nil means the write is unconditional.
func (g *Gateway) writeCondition(ctx context.Context, h http.Header, bucket, key string) (*transport.Condition, error) {
	inm, im := strings.TrimSpace(h.Get("If-None-Match")), strings.TrimSpace(h.Get("If-Match"))
	if inm == "" && im == "" {
		return nil, nil
	}
	if inm != "" && inm != "*" {
		return nil, s3api.Errorf(s3api.NotImplemented, "If-None-Match on writes supports only '*'")
	}
	cur, _, err := g.readVersion(ctx, bucket, key)
	var s3err *s3api.Error
	if err != nil && !(errors.As(err, &s3err) && s3err.Code == s3api.NoSuchKey) {
		return nil, err
	}
	cond := &transport.Condition{}
	if cur != nil {
		// Our version must order after what we saw, or every home refuses.
		if err := g.clock.Update(cur.HLC); err != nil {
			return nil, fmt.Errorf("conditional write: %w", err)
		}
	}
	if inm == "*" {
		if cur != nil {
			return nil, s3api.NewError(s3api.PreconditionFailed)
		}
		cond.MustNotExist = true
	}
	if im != "" {
		if cur == nil {
			return nil, &s3api.Error{Code: s3api.NoSuchKey, Resource: "/" + bucket + "/" + key}
		}
		if notMod, err := (s3api.Preconditions{IfMatch: im}).Evaluate(cur.ETag, cur.ModTime); err != nil || notMod {
			return nil, s3api.NewError(s3api.PreconditionFailed)
		}
		cond.MatchVersionID, cond.MatchHLC = cur.VersionID, cur.HLC
	}
	return cond, nil
}

// commitAs commits v unconditionally (cond nil) or conditionally.
// Either way v is first stamped after the key's newest HLC: a conditional
// write's check already moved the clock past what it read.
func (g *Gateway) commitAs(ctx context.Context, v *metadata.Version, inline [][]byte, cond *transport.Condition) error {
	var latest <-chan error
	if cond == nil {
		latest = g.latestHLC(ctx, v.Bucket, v.Key)
	}
	if err := g.stampVersion(v, latest); err != nil {
		return err
	}
	if cond == nil {
		_, err := g.commitVersion(ctx, v, inline)
		return err
	}
	return g.commitConditional(ctx, v, inline, *cond)
}

type condAnswer struct {
	node     string
	accepted bool
	err      error
}

// commitConditional sends v with cond to every home and waits for all of
// them: the writer must know exactly who accepted, to roll back if it
// lost. Conditional writes use homes only, never hinted fallbacks: a
// fallback cannot decide for a home.
func (g *Gateway) commitConditional(ctx context.Context, v *metadata.Version, inline [][]byte, cond transport.Condition) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	out := make(chan condAnswer, len(v.Shards))
	for i, home := range v.Shards {
		rec := *v
		if inline != nil {
			rec.Inline = inline[i]
		}
		go func() {
			a := condAnswer{node: home}
			cl, err := g.node(home)
			if err == nil {
				cw, ok := cl.(transport.ConditionalWriter)
				if !ok {
					err = errUnavailable
				} else {
					a.accepted, err = cw.PutVersionIf(ctx, &rec, cond)
				}
			}
			a.err = err
			out <- a
		}()
	}
	var accepted, undecided []string
	refused := 0
	var errs []error
	for range v.Shards {
		a := <-out
		switch {
		case a.err != nil:
			// The record may have landed before the answer was lost.
			undecided = append(undecided, a.node)
			errs = append(errs, a.err)
		case a.accepted:
			accepted = append(accepted, a.node)
		default:
			refused++
		}
	}
	okey := metadata.ObjectKey{Bucket: v.Bucket, Key: v.Key}
	if len(accepted) >= g.params.MetaWrite {
		g.resolve(okey, v.VersionID, append(accepted, undecided...), true)
		return nil
	}
	// Lost: undo wherever it may have landed, and wait for that, so that
	// a retry by the client meets the state before this attempt.
	g.resolveWait(ctx, okey, v.VersionID, append(accepted, undecided...), false)
	if refused > 0 {
		return s3api.NewError(s3api.PreconditionFailed)
	}
	return fmt.Errorf("%w: conditional write of %s: %d of %d homes accepted: %v", errUnavailable, okey, len(accepted), len(v.Shards), errors.Join(errs...))
}

// resolve ends a conditional write on nodes in the background.
func (g *Gateway) resolve(key metadata.ObjectKey, versionID string, nodes []string, commit bool) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		g.resolveWait(ctx, key, versionID, nodes, commit)
	}()
}

func (g *Gateway) resolveWait(ctx context.Context, key metadata.ObjectKey, versionID string, nodes []string, commit bool) {
	answers := fanout(ctx, g, nodes, func(ctx context.Context, cl transport.NodeClient) (struct{}, error) {
		cw, ok := cl.(transport.ConditionalWriter)
		if !ok {
			return struct{}{}, errUnavailable
		}
		return struct{}{}, cw.ResolveVersion(ctx, key, versionID, commit)
	})
	for range nodes {
		if a := <-answers; a.err != nil {
			g.log.Warn("resolve conditional write", "key", key.String(), "version", versionID, "commit", commit, "node", a.node, "err", a.err)
		}
	}
}
