package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/erasure"
	"cairn/internal/clustertest"
	"cairn/node"
)

// failureObjects are inline (0, 1 B, 100 KiB), one block and a bit, and
// many blocks.
var failureObjects = []struct {
	key  string
	size int
}{
	{"empty", 0},
	{"one", 1},
	{"inline", 100 << 10},
	{"block-and-one", 1<<20 + 1},
	{"multi/block", 5<<20 + 17},
}

// putFailureObjects stores failureObjects and waits until every home has
// its record and shard, so that any node taken down later held its part.
func putFailureObjects(t *testing.T, c *clustertest.Cluster, cl *s3.Client, bucket string) map[string][]byte {
	t.Helper()
	data := make(map[string][]byte)
	for i, o := range failureObjects {
		data[o.key] = randomBytes(uint64(100+i), o.size)
		put(t, cl, bucket, o.key, data[o.key])
	}
	for _, o := range failureObjects {
		waitReplicated(t, c, bucket, o.key, md5Hex(data[o.key]), o.size > 128<<10)
	}
	return data
}

// TestTwoNodesDown stops every pair of the six nodes in turn; with 4+2
// erasure coding every object must still read back exactly, whole and by
// range, and HEAD and LIST must still answer.
func TestTwoNodesDown(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket = "twodown"
	mustCreateBucket(t, cl, bucket)
	data := putFailureObjects(t, c, cl, bucket)
	var keys []string
	for _, o := range failureObjects {
		keys = append(keys, o.key)
	}
	slices.Sort(keys)
	ctx := context.Background()

	pairs := 0
	for a := range c.Nodes {
		for b := a + 1; b < len(c.Nodes); b++ {
			pairs++
			down := c.Nodes[a].ID + "+" + c.Nodes[b].ID
			t.Run(down, func(t *testing.T) {
				for _, n := range []*clustertest.Node{c.Nodes[a], c.Nodes[b]} {
					if err := n.Stop(); err != nil {
						t.Fatalf("stop %s: %v", n.ID, err)
					}
					defer func() {
						if err := n.Restart(); err != nil {
							t.Fatalf("restart %s: %v", n.ID, err)
						}
					}()
				}
				for _, o := range failureObjects {
					want := data[o.key]
					got, _ := get(t, cl, bucket, o.key, nil)
					sameBytes(t, "GET "+o.key+" with "+down+" down", got, want)
					if o.size > 2 {
						// A range that starts and ends inside the object and,
						// on the large ones, crosses a block boundary.
						start, end := o.size/3, o.size-2
						if o.size > 1<<20 {
							start, end = 1<<20-3, min(o.size-1, 3<<20+5)
						}
						got, _ := get(t, cl, bucket, o.key, aws.String(fmt.Sprintf("bytes=%d-%d", start, end)))
						sameBytes(t, fmt.Sprintf("GET %s bytes=%d-%d with %s down", o.key, start, end, down), got, want[start:end+1])
					}
					head, err := cl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key)})
					if err != nil {
						t.Errorf("HEAD %s with %s down: %v", o.key, down, err)
					} else if aws.ToInt64(head.ContentLength) != int64(o.size) || aws.ToString(head.ETag) != `"`+md5Hex(want)+`"` {
						t.Errorf("HEAD %s with %s down: size %d ETag %s; want %d %q", o.key, down,
							aws.ToInt64(head.ContentLength), aws.ToString(head.ETag), o.size, md5Hex(want))
					}
				}
				got, _ := listAllV2(t, cl, bucket, "", "", "", 2)
				wantList(t, "LIST with "+down+" down", got, nil, keys, nil)
			})
		}
	}
	if pairs != 15 {
		t.Errorf("tried %d pairs of nodes; want 15", pairs)
	}
}

// TestThreeNodesDown stops three of six nodes, one more than 4+2 coding
// survives: reads must fail with 503 ServiceUnavailable, never answer
// wrong bytes.
func TestThreeNodesDown(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	const bucket = "threedown"
	mustCreateBucket(t, cl, bucket)
	data := putFailureObjects(t, c, cl, bucket)
	for _, n := range c.Nodes[1:4] {
		if err := n.Stop(); err != nil {
			t.Fatalf("stop %s: %v", n.ID, err)
		}
	}
	for _, o := range failureObjects {
		for _, rng := range []string{"", "bytes=0-0", "bytes=-1"} {
			t.Run(o.key+"/"+rng, func(t *testing.T) {
				t.Parallel()
				req := rawRequest{method: http.MethodGet, path: "/" + bucket + "/" + o.key}
				if rng != "" {
					req.header = http.Header{"Range": {rng}}
				}
				resp, body := req.do(t, c.Endpoint)
				if o.size == 0 && resp.StatusCode == http.StatusOK && len(body) == 0 {
					// An empty object has no shards to lose: its record,
					// still on three nodes, is the whole of it.
					return
				}
				if o.size == 0 && rng != "" && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
					return // no byte of an empty object can be asked for
				}
				wantError(t, "GET "+o.key+" "+rng+" with 3 nodes down", resp, body, http.StatusServiceUnavailable, "ServiceUnavailable")
				if bytes.Contains(body, data[o.key][:min(len(data[o.key]), 64)]) && o.size > 0 {
					t.Errorf("error body holds object bytes")
				}
			})
		}
	}
}

// frameOffset is the offset in a shard file of byte i of block b's
// fragment: every block's frame is a 32-byte checksum and the fragment.
func frameOffset(blockSize, k, b, i int) int64 {
	return int64(b)*int64(erasure.ChecksumSize+blockSize/k) + erasure.ChecksumSize + int64(i)
}

// shardsByIndex finds the stored shards of the one sharded object in a
// cluster, by shard index, and checks their size against the codec's.
func shardsByIndex(t *testing.T, c *clustertest.Cluster, size int64) map[int]node.ShardExtent {
	t.Helper()
	codec, err := erasure.New(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	byIndex := make(map[int]node.ShardExtent)
	for _, s := range storedShards(t, c) {
		if _, dup := byIndex[s.Index]; dup {
			t.Fatalf("two stored shards with index %d", s.Index)
		}
		byIndex[s.Index] = s.ShardExtent
		if s.Size != codec.ShardFileSize(size) {
			t.Fatalf("shard %d (%s at %d): %d bytes; want %d", s.Index, s.Path, s.Offset, s.Size, codec.ShardFileSize(size))
		}
	}
	if len(byIndex) != 6 {
		t.Fatalf("found %d stored shards; want 6", len(byIndex))
	}
	return byIndex
}

// TestBitrot flips bytes of shards in their segment files on disk. Up to two damaged shards
// are detected by their checksums, counted, and read around; three make
// the object unreadable, and the gateway says so rather than send wrong
// bytes.
func TestBitrot(t *testing.T) {
	t.Parallel()
	const (
		large = 4<<20 + 5 // five blocks, the last of 5 bytes
		small = 1<<20 + 3 // two blocks: whole GETs bring its shards with the records
		bs    = 1 << 20
		k     = 4
	)
	type damage struct{ shard, block, at int } // at < 0: in the checksum itself
	tests := []struct {
		name    string
		damage  []damage
		rng     string // "" for the whole object
		corrupt int64  // corrupt shards the GET must detect
		fails   bool
		early   bool // the failure shows before the status line
		small   bool // the object is small enough for shards to come with records
	}{
		{name: "data shard, first block", damage: []damage{{0, 0, 100}}, corrupt: 1},
		{name: "data shard, middle block", damage: []damage{{2, 2, bs/k - 1}}, corrupt: 1},
		{name: "data shard, short last block", damage: []damage{{1, 4, 0}}, corrupt: 1},
		{name: "checksum of a block", damage: []damage{{3, 1, -7}}, corrupt: 1},
		{name: "data shard, ranged read", damage: []damage{{0, 1, 10}}, rng: fmt.Sprintf("bytes=%d-%d", bs+5, 2*bs+5), corrupt: 1},
		{name: "two data shards", damage: []damage{{0, 0, 5}, {3, 0, 6}}, corrupt: 2},
		{name: "two shards, different blocks", damage: []damage{{1, 1, 5}, {2, 3, 6}}, corrupt: 2},
		{name: "parity is not read while data is whole", damage: []damage{{4, 0, 5}, {5, 0, 6}}, corrupt: 0},
		{name: "three shards, first block", damage: []damage{{0, 0, 1}, {1, 0, 2}, {2, 0, 3}}, fails: true, early: true},
		{name: "three shards, third block", damage: []damage{{0, 2, 1}, {1, 2, 2}, {4, 2, 3}}, fails: true},
		{name: "three shards, ranged read", damage: []damage{{1, 3, 1}, {2, 3, 2}, {3, 3, 3}}, rng: fmt.Sprintf("bytes=%d-", 3*bs), fails: true, early: true},
		{name: "small object, data shard", damage: []damage{{2, 0, 9}}, corrupt: 1, small: true},
		{name: "small object, short last block", damage: []damage{{0, 1, 0}}, corrupt: 1, small: true},
		{name: "small object, two data shards", damage: []damage{{0, 0, 3}, {3, 1, -1}}, corrupt: 2, small: true},
		{name: "small object, three shards", damage: []damage{{0, 0, 1}, {1, 0, 2}, {4, 0, 3}}, fails: true, early: true, small: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := clustertest.Start(t, clustertest.Options{})
			cl := sdkClient(t, c)
			mustCreateBucket(t, cl, "rot")
			size := large
			if tc.small {
				size = small
			}
			data := randomBytes(42, size)
			put(t, cl, "rot", "obj", data)
			waitReplicated(t, c, "rot", "obj", md5Hex(data), true)
			shards := shardsByIndex(t, c, int64(size))
			for _, d := range tc.damage {
				off := frameOffset(bs, k, d.block, d.at)
				if d.at < 0 {
					off = frameOffset(bs, k, d.block, 0) + int64(d.at)
				}
				flip(t, shards[d.shard], off)
			}
			want := data
			var rng *string
			if tc.rng != "" {
				rng = aws.String(tc.rng)
				var start int
				fmt.Sscanf(tc.rng, "bytes=%d-", &start)
				var end int
				if _, err := fmt.Sscanf(tc.rng, "bytes=%d-%d", &start, &end); err == nil {
					want = data[start : end+1]
				} else {
					want = data[start:]
				}
			}
			before, hedgedBefore := c.Gateway.Stats().CorruptShards.Load(), c.Gateway.Stats().HedgedReads.Load()
			out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("rot"), Key: aws.String("obj"), Range: rng})
			var got []byte
			if err == nil {
				got, err = io.ReadAll(out.Body)
				out.Body.Close()
				if tc.fails && tc.early {
					t.Errorf("GET sent a status line (and %d bytes) for an unreadable object; want 503 before any", len(got))
				}
			} else if tc.fails {
				var re *awshttp.ResponseError
				if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable || errorCode(err) != "ServiceUnavailable" {
					t.Errorf("GET of an unreadable object = %v; want 503 ServiceUnavailable", err)
				}
			}
			if tc.fails {
				if err == nil {
					t.Fatalf("GET with three damaged shards returned %d bytes without error (right bytes: %v)", len(got), bytes.Equal(got, want))
				}
				if len(got) >= len(want) {
					t.Errorf("GET returned %d bytes of %d before failing", len(got), len(want))
				}
				if !bytes.Equal(got, want[:len(got)]) {
					t.Errorf("GET sent wrong bytes before failing")
				}
				return
			}
			if err != nil {
				t.Fatalf("GET with damaged shards: %v", err)
			}
			sameBytes(t, "GET with damaged shards", got, want)
			// A read that hedged (a node looked slow on the loaded machine)
			// reads a parity shard besides the k it needs and decodes from
			// the first k frames to arrive (erasure.WithExtraReads): it may
			// leave a damaged data frame unread and so unreported, or find a
			// damaged parity frame an unhedged read never opens. The bytes
			// are right either way.
			n := c.Gateway.Stats().CorruptShards.Load() - before
			if hedged := c.Gateway.Stats().HedgedReads.Load() - hedgedBefore; hedged > 0 {
				if n > int64(len(tc.damage)) {
					t.Errorf("CorruptShards went up by %d in a hedged read of %d damaged shards", n, len(tc.damage))
				}
			} else if n != tc.corrupt {
				t.Errorf("CorruptShards went up by %d; want %d", n, tc.corrupt)
			}
		})
	}
}

// TestClientHangsUp starts a 10 MiB PUT, sends half of it, waits until the
// nodes are writing shards, and hangs up: no object and no stored shard
// may remain.
func TestClientHangsUp(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{modeUnsigned, "signed"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			c := clustertest.Start(t, clustertest.Options{})
			cl := sdkClient(t, c)
			mustCreateBucket(t, cl, "hangup")
			const size = 10 << 20
			body := randomBytes(9, size)
			r, err := http.NewRequest(http.MethodPut, c.Endpoint+"/hangup/obj", nil)
			if err != nil {
				t.Fatal(err)
			}
			req := rawRequest{body: body}
			if mode == modeUnsigned {
				req.payloadHash = modeUnsigned
			}
			req.sign(t, r)

			conn, err := net.Dial("tcp", r.URL.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var head bytes.Buffer
			fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", r.URL.RequestURI(), r.URL.Host, size)
			for name, vals := range r.Header {
				for _, v := range vals {
					fmt.Fprintf(&head, "%s: %s\r\n", name, v)
				}
			}
			head.WriteString("\r\n")
			if _, err := conn.Write(head.Bytes()); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(body[:size/2]); err != nil {
				t.Fatal(err)
			}
			// Hang up only once the nodes are busy with the upload, so the
			// test covers cleaning up shards that were begun.
			// The cluster holds nothing else, so any segment bytes are
			// this upload's.
			eventually(t, 10*time.Second, func() string {
				if segmentBytes(t, c) == 0 {
					return "no node has started a shard"
				}
				return ""
			})
			conn.Close()

			// The bytes written stay in the segments until compaction;
			// what must not remain is a shard the index names.
			eventually(t, 10*time.Second, func() string {
				if s := storedShards(t, c); len(s) > 0 {
					return fmt.Sprintf("%d shards left after the client hung up: %+v", len(s), s)
				}
				return ""
			})
			_, err = cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("hangup"), Key: aws.String("obj")})
			if code := errorCode(err); code != "NotFound" {
				t.Errorf("HEAD after the client hung up = %v; want NotFound", err)
			}
			keys, _ := listAllV2(t, cl, "hangup", "", "", "", 1000)
			if len(keys) != 0 {
				t.Errorf("listing after the client hung up: %q", keys)
			}
		})
	}
}
