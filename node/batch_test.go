package node

import (
	"errors"
	"testing"

	"cairn/metadata"
	"cairn/transport"
)

// A batch's records are committed without a sync each and synced once: once
// PutVersions has answered, a crash that loses everything not synced keeps
// them. The record committed without that sync afterwards is the control,
// showing the crash does lose what was not synced.
func TestPutVersionsDurableOnceAnswered(t *testing.T) {
	t.Parallel()
	n, crash := openCrashableNode(t)
	ctx := t.Context()

	// "a" twice: the second is a retry of the first, answered by it.
	writes := []transport.VersionWrite{
		{V: version("a", "v1", 10)},
		{V: version("b", "v2", 11), UnlessNewer: true},
		{V: version("a", "v1", 10)},
	}
	results, err := n.PutVersions(ctx, writes)
	if err != nil {
		t.Fatalf("PutVersions: %v", err)
	}
	for i, r := range results {
		if r.Err != nil || r.Newer != 0 {
			t.Fatalf("write %d: %+v", i, r)
		}
	}
	if err := n.putVersion(ctx, version("c", "v3", 12)); err != nil {
		t.Fatalf("unsynced write: %v", err)
	}

	m := crash()
	for _, key := range []string{"a", "b"} {
		if _, err := m.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: key}); err != nil {
			t.Errorf("record %q after the crash: %v", key, err)
		}
	}
	if _, err := m.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "c"}); !errors.Is(err, transport.ErrNotFound) {
		t.Errorf("unsynced record after the crash: err %v, want not found", err)
	}
}

// A retry that finds its record already here answers for it, and that
// record may be another batch's, committed and not yet synced: the retry's
// answer must wait for a sync all the same.
func TestPutVersionRetryDurableOnceAnswered(t *testing.T) {
	t.Parallel()
	n, crash := openCrashableNode(t)
	ctx := t.Context()
	for _, put := range []struct {
		key   string
		write func(v *metadata.Version) error
	}{
		{"plain", func(v *metadata.Version) error { return n.PutVersion(ctx, v) }},
		{"ordered", func(v *metadata.Version) error { _, err := n.PutVersionUnlessNewer(ctx, v); return err }},
	} {
		v := version(put.key, "v1", 10)
		if err := n.putVersion(ctx, v); err != nil {
			t.Fatalf("%s: unsynced first write: %v", put.key, err)
		}
		if err := put.write(v); err != nil {
			t.Fatalf("%s: retry: %v", put.key, err)
		}
	}
	m := crash()
	for _, key := range []string{"plain", "ordered"} {
		if _, err := m.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: key}); err != nil {
			t.Errorf("record %q answered by its retry, after the crash: %v", key, err)
		}
	}
}

// A batch answers each write on its own: a refusal or an invalid record
// does not fail the others.
func TestPutVersionsAnswersEachWrite(t *testing.T) {
	t.Parallel()
	n, _ := openTestNode(t)
	ctx := t.Context()
	if err := n.PutVersion(ctx, version("k", "new", 20)); err != nil {
		t.Fatal(err)
	}
	results, err := n.PutVersions(ctx, []transport.VersionWrite{
		{V: version("k", "old", 10), UnlessNewer: true},
		{V: nil},
		{V: version("other", "v", 30)},
	})
	if err != nil {
		t.Fatalf("PutVersions: %v", err)
	}
	if r := results[0]; r.Err != nil || r.Newer != 20 {
		t.Errorf("older fresh write: %+v, want refused with HLC 20", r)
	}
	if !errors.Is(results[1].Err, transport.ErrInvalid) {
		t.Errorf("nil record: %v, want ErrInvalid", results[1].Err)
	}
	if results[2].Err != nil {
		t.Errorf("third write: %v", results[2].Err)
	}
	if _, err := n.GetVersion(ctx, metadata.ObjectKey{Bucket: "b", Key: "other"}); err != nil {
		t.Errorf("third record: %v", err)
	}
}
