package gateway

import (
	"testing"

	"cairn/metadata"
)

func TestPrefetchChoiceFollowsTheBucket(t *testing.T) {
	t.Parallel()
	var p prefetchChoice
	small := &metadata.Version{Size: 1 << 20}
	inline := &metadata.Version{Size: 4 << 10, Inline: []byte{1}}
	large := &metadata.Version{Size: prefetchMaxSize + 1}
	if !p.want("b") {
		t.Fatal("a bucket nothing was read from yet: want shards asked for")
	}
	p.found("b", inline)
	if p.want("b") {
		t.Error("after an inline object: still asking for shards")
	}
	if !p.want("other") {
		t.Error("one bucket's objects steered another's reads")
	}
	for range 20 {
		p.found("b", large)
	}
	if p.want("b") {
		t.Error("after large objects: still asking for shards")
	}
	// The score is bounded, so a change of sizes turns it within a few reads.
	for range prefetchScoreMax + 1 {
		p.found("b", small)
	}
	if !p.want("b") {
		t.Errorf("after %d small streamed objects: not asking for shards", prefetchScoreMax+1)
	}
}
