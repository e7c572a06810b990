package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/clustertest"
	"cairn/metadata"
	"cairn/transport"
)

// nodeState is what one node holds: its newest record per key (inline
// fragment included) and the digest of every shard it stores.
type nodeState struct {
	records map[string]string   // key → "versionID deleted"
	inline  map[string][32]byte // key → digest of the record's inline fragment
	shards  map[string][32]byte // shardID → digest of the shard's bytes
}

// shardID names a stored shard in a nodeState.
func shardID(versionHash string, index int) string {
	return fmt.Sprintf("%s.%d", versionHash, index)
}

func captureState(t *testing.T, n *clustertest.Node, bucket string) nodeState {
	t.Helper()
	ctx := t.Context()
	st := nodeState{records: map[string]string{}, inline: map[string][32]byte{}, shards: map[string][32]byte{}}
	page, err := n.Node().List(ctx, transport.ListRequest{Bucket: bucket, Limit: 10000})
	if err != nil {
		t.Fatalf("list %s on %s: %v", bucket, n.ID, err)
	}
	for _, e := range page.Entries {
		st.records[e.Key] = fmt.Sprintf("%s %v", e.VersionID, e.Deleted)
		v, err := n.Node().GetVersion(ctx, metadata.ObjectKey{Bucket: bucket, Key: e.Key})
		if err != nil {
			t.Fatalf("get %s on %s: %v", e.Key, n.ID, err)
		}
		if v.IsInline() {
			st.inline[e.Key] = sha256.Sum256(v.Inline)
		}
	}
	stored, err := n.Node().StoredShards(ctx)
	if err != nil {
		t.Fatalf("stored shards of %s: %v", n.ID, err)
	}
	for _, s := range stored {
		st.shards[shardID(s.VersionHash, s.Index)] = sha256.Sum256(readExtent(t, s.ShardExtent))
	}
	return st
}

func diffState(what string, got, want nodeState) []string {
	var out []string
	for _, m := range []struct {
		name      string
		got, want map[string]string
	}{{"record", got.records, want.records}} {
		for k, w := range m.want {
			if g, ok := m.got[k]; !ok || g != w {
				out = append(out, fmt.Sprintf("%s: %s %q = %q; want %q", what, m.name, k, g, w))
			}
		}
		for k := range m.got {
			if _, ok := m.want[k]; !ok {
				out = append(out, fmt.Sprintf("%s: unexpected %s %q", what, m.name, k))
			}
		}
	}
	for _, m := range []struct {
		name      string
		got, want map[string][32]byte
	}{{"inline fragment", got.inline, want.inline}, {"shard", got.shards, want.shards}} {
		for k, w := range m.want {
			if g, ok := m.got[k]; !ok || g != w {
				out = append(out, fmt.Sprintf("%s: %s %q missing or different (present %v)", what, m.name, k, ok))
			}
		}
		for k := range m.got {
			if _, ok := m.want[k]; !ok {
				out = append(out, fmt.Sprintf("%s: unexpected %s %q", what, m.name, k))
			}
		}
	}
	slices.Sort(out)
	return out
}

// putMultipart uploads data in two parts (5 MiB + the rest).
func putMultipart(t *testing.T, cl *s3.Client, bucket, key string, data []byte) {
	t.Helper()
	ctx := t.Context()
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var parts []types.CompletedPart
	for i, chunk := range [][]byte{data[:5<<20], data[5<<20:]} {
		out, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(chunk)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
}

// settled waits until every home of every key holds its record and, for
// single-part objects, a verified shard.
func settled(t *testing.T, c *clustertest.Cluster, bucket string, objects map[string][]byte) {
	t.Helper()
	eventually(t, 20*time.Second, func() string {
		for key, data := range objects {
			if err := homeComplete(t.Context(), c, bucket, key, int64(len(data))); err != nil {
				return err.Error()
			}
		}
		return ""
	})
}

// A node whose data dir is wiped gets back, from one scanner pass, exactly
// the records, inline fragments and shards it held.
func TestScannerRestoresWipedNode(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{ScanInterval: time.Hour})
	cl := sdkClient(t, c)
	ctx := t.Context()
	mustCreateBucket(t, cl, "wipe")
	objects := map[string][]byte{}
	sizes := []int{0, 1, 1000, 100 << 10, 200 << 10, 1<<20 + 1, 3<<20 + 5}
	for i := range 28 {
		key := fmt.Sprintf("obj-%02d", i)
		objects[key] = randomBytes(uint64(500+i), sizes[i%len(sizes)])
		put(t, cl, "wipe", key, objects[key])
	}
	put(t, cl, "wipe", "gone", randomBytes(1, 300<<10))
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("wipe"), Key: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	mp := randomBytes(77, 5<<20+12345)
	putMultipart(t, cl, "wipe", "multipart", mp)
	settled(t, c, "wipe", objects)
	victim := c.Nodes[2]
	eventually(t, 10*time.Second, func() string {
		// The multipart object's and the tombstone's records reach every
		// home asynchronously too.
		st := captureState(t, victim, "wipe")
		if len(st.records) != len(objects)+2 {
			return fmt.Sprintf("victim has %d records; want %d", len(st.records), len(objects)+2)
		}
		return ""
	})
	// The deleted object's shards wait out the retire grace; they are
	// garbage, not something the node should get back.
	if _, err := victim.Node().SweepRetired(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := captureState(t, victim, "wipe")

	if err := victim.Stop(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(victim.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(victim.Dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := victim.Restart(); err != nil {
		t.Fatal(err)
	}
	if st := captureState(t, victim, "wipe"); len(st.records)+len(st.shards) != 0 {
		t.Fatalf("wiped node still holds %d records and %d shards", len(st.records), len(st.shards))
	}
	start := time.Now()
	if err := victim.Node().ScanNow(ctx); err != nil {
		t.Fatalf("ScanNow on the wiped node: %v", err)
	}
	took := time.Since(start)
	after := captureState(t, victim, "wipe")
	for _, d := range diffState("restored node", after, before) {
		t.Error(d)
	}
	stats := victim.Node().ScannerStats()
	t.Logf("wiped node restored in %v: %d records pulled, %d shards rebuilt (%d inline fragments), stats %+v",
		took, stats.RecordsPulled, stats.ShardsRebuilt, len(after.inline), stats)
	if stats.RecordsPulled != int64(len(before.records)) || stats.ShardsRebuilt != int64(len(before.shards)) || stats.BucketsPulled != 1 {
		t.Errorf("stats: %d records pulled, %d shards rebuilt, %d buckets; want %d, %d, 1",
			stats.RecordsPulled, stats.ShardsRebuilt, stats.BucketsPulled, len(before.records), len(before.shards))
	}

	// The restored shards carry data: with two other nodes down, every
	// object reads back through the restored one.
	for _, n := range []*clustertest.Node{c.Nodes[0], c.Nodes[4]} {
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	objects["multipart"] = mp
	for key, data := range objects {
		got, _ := get(t, cl, "wipe", key, nil)
		sameBytes(t, "read after restore with two other nodes down: "+key, got, data)
	}
}

// The scanner loop finds a lost and a bit-flipped shard and rebuilds both,
// byte-exact.
func TestScannerRebuildsDamagedShards(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{ScanInterval: 200 * time.Millisecond})
	cl := sdkClient(t, c)
	ctx := t.Context()
	mustCreateBucket(t, cl, "scrub")
	objects := map[string][]byte{"a": randomBytes(1, 2<<20+3), "b": randomBytes(2, 700<<10)}
	for key, data := range objects {
		put(t, cl, "scrub", key, data)
	}
	settled(t, c, "scrub", objects)
	n := c.Nodes[1]
	statsBefore := n.Node().ScannerStats()
	var refs []transport.ShardRef
	var originals [][]byte
	for _, key := range []string{"a", "b"} {
		v, err := n.Node().GetVersion(ctx, metadata.ObjectKey{Bucket: "scrub", Key: key})
		if err != nil {
			t.Fatal(err)
		}
		ref := transport.ShardRef{Bucket: "scrub", Key: key, VersionID: v.VersionID, Index: slices.Index(v.Shards, n.ID)}
		refs, originals = append(refs, ref), append(originals, readExtent(t, mustShardExtent(t, n, ref)))
	}
	// a's shard is lost: its index entry goes, the one thing that makes a
	// shard exist.
	if err := n.Node().DeleteShard(ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	// b's rots: a byte flips in place in its segment.
	flip(t, mustShardExtent(t, n, refs[1]), int64(len(originals[1])/3))
	took := waitFor(t, "scanner loop repairs both shards", 30*time.Second, func() bool {
		st := n.Node().ScannerStats()
		return st.ShardsRebuilt-statsBefore.ShardsRebuilt >= 2
	})
	for i, ref := range refs {
		ext, ok := shardExtent(t, n, ref)
		if !ok {
			t.Errorf("shard %s not stored after repair", ref)
			continue
		}
		if got := readExtent(t, ext); !bytes.Equal(got, originals[i]) {
			t.Errorf("shard %s after repair: %d bytes (sha256 %x); want the %d original bytes (sha256 %x)",
				ref, len(got), sha256.Sum256(got), len(originals[i]), sha256.Sum256(originals[i]))
		}
	}
	st := n.Node().ScannerStats()
	if d := st.ShardsMissing - statsBefore.ShardsMissing; d != 1 {
		t.Errorf("ShardsMissing grew by %d; want 1", d)
	}
	if d := st.ShardsCorrupt - statsBefore.ShardsCorrupt; d != 1 {
		t.Errorf("ShardsCorrupt grew by %d; want 1", d)
	}
	if d := st.ShardsRebuilt - statsBefore.ShardsRebuilt; d != 2 {
		t.Errorf("ShardsRebuilt grew by %d; want 2", d)
	}
	if st.RepairFailures != 0 {
		t.Errorf("RepairFailures = %d; want 0", st.RepairFailures)
	}
	t.Logf("repaired %v after damage; last pass took %v", took, st.LastPassDuration)
}

// A shard whose PUT never committed is collected after the grace period;
// committed shards are not.
func TestScannerCollectsOrphanShard(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	c := clustertest.Start(t, clustertest.Options{ScanInterval: time.Hour, OrphanGrace: grace})
	cl := sdkClient(t, c)
	ctx := t.Context()
	mustCreateBucket(t, cl, "orph")
	data := randomBytes(3, 600<<10)
	put(t, cl, "orph", "kept", data)
	settled(t, c, "orph", map[string][]byte{"kept": data})
	n := c.Nodes[0]
	ref := transport.ShardRef{Bucket: "orph", Key: "never-committed", VersionID: metadata.NewVersionID(metadata.NewHLC(time.Now().UnixMilli(), 0), "gw"), Index: 1}
	if err := n.Node().PutShard(ctx, ref, bytes.NewReader([]byte("half a put")), 10); err != nil {
		t.Fatal(err)
	}
	if _, ok := shardExtent(t, n, ref); !ok {
		t.Fatalf("orphan shard not stored")
	}
	keptBefore := captureState(t, n, "orph")
	if err := n.Node().ScanNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := shardExtent(t, n, ref); !ok {
		t.Fatalf("orphan collected inside its grace period")
	}
	time.Sleep(grace + 50*time.Millisecond) // index entries are dated by the wall clock
	if err := n.Node().ScanNow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := shardExtent(t, n, ref); ok {
		t.Errorf("orphan shard still stored after the grace period")
	}
	keptAfter := captureState(t, n, "orph")
	delete(keptBefore.shards, shardID(versionHash(ref.Bucket, ref.Key, ref.VersionID), ref.Index))
	for _, d := range diffState("after orphan collection", keptAfter, keptBefore) {
		t.Error(d)
	}
	if got := n.Node().ScannerStats().OrphansRemoved; got != 1 {
		t.Errorf("OrphansRemoved = %d; want 1", got)
	}
	got, _ := get(t, cl, "orph", "kept", nil)
	sameBytes(t, "committed object after orphan collection", got, data)
}

// Hints for a home that stay away longer than the hint window become repair
// debts; the nodes holding them rebuild the shards and records at the home.
func TestScannerSettlesRepairDebts(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{ScanInterval: time.Hour, HintWindow: time.Millisecond})
	cl := sdkClient(t, c)
	ctx := t.Context()
	mustCreateBucket(t, cl, "debt")
	home := c.Nodes[3]
	if err := home.Stop(); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{}
	for i, size := range []int{10, 50 << 10, 300 << 10, 1<<20 + 7} {
		key := fmt.Sprintf("d%d", i)
		objects[key] = randomBytes(uint64(900+i), size)
		put(t, cl, "debt", key, objects[key])
	}
	time.Sleep(5 * time.Millisecond) // past the hint window
	if err := home.Restart(); err != nil {
		t.Fatal(err)
	}
	// Handoff finds every hint expired and records debts instead.
	waitFor(t, "hints turn into repair debts", 20*time.Second, func() bool {
		debts, hints := 0, 0
		for _, n := range c.Nodes {
			for id, st := range n.Node().HintStats() {
				if id == home.ID {
					debts += st.RepairDebts
					hints += st.Count
				}
			}
		}
		return hints == 0 && debts >= len(objects)
	})
	if _, err := home.Node().GetVersion(ctx, metadata.ObjectKey{Bucket: "debt", Key: "d3"}); err == nil {
		t.Fatalf("the home got its record without repair; the test needs it missing")
	}
	settledDebts := int64(0)
	for _, n := range c.Nodes {
		if n == home {
			continue // the home's own scan would repair too; debts must not need it
		}
		if err := n.Node().ScanNow(ctx); err != nil {
			t.Fatalf("ScanNow on %s: %v", n.ID, err)
		}
		settledDebts += n.Node().ScannerStats().DebtsSettled
		if debts, _ := n.Node().RepairDebts(home.ID); len(debts) != 0 {
			t.Errorf("%s still holds %d repair debts for %s", n.ID, len(debts), home.ID)
		}
	}
	t.Logf("%d repair debts settled by the nodes holding them", settledDebts)
	if settledDebts < int64(len(objects)) {
		t.Errorf("debts settled = %d; want at least %d", settledDebts, len(objects))
	}
	for key, data := range objects {
		if err := homeComplete(ctx, c, "debt", key, int64(len(data))); err != nil {
			t.Error(err)
		}
	}
	// Reads use the repaired home: stop two others.
	for _, n := range []*clustertest.Node{c.Nodes[0], c.Nodes[1]} {
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	for key, data := range objects {
		got, _ := get(t, cl, "debt", key, nil)
		sameBytes(t, "read after debts settled: "+key, got, data)
	}
}
