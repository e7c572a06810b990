package erasure_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"

	"cairn/erasure"
)

func Example() {
	// 4 data + 2 parity shards: any 2 of the 6 may be lost.
	codec, err := erasure.New(4, 2, erasure.WithBlockSize(64))
	if err != nil {
		log.Fatal(err)
	}

	// Encode: one writer per shard (in Cairn, a stream to a storage node).
	object := strings.Repeat("cairns mark the way. ", 10)
	shards := make([]bytes.Buffer, codec.TotalShards())
	writers := make([]io.Writer, len(shards))
	for i := range shards {
		writers[i] = &shards[i]
	}
	enc := codec.NewEncoder(writers)
	if _, err := io.Copy(enc, strings.NewReader(object)); err != nil {
		log.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("shard size:", shards[0].Len(), "=", codec.ShardFileSize(int64(len(object))))

	// Decode bytes [100, 130) with data shard 1 gone.
	open := func(i int, off, n int64) (io.ReadCloser, error) {
		if i == 1 {
			return nil, errors.New("node down")
		}
		return io.NopCloser(bytes.NewReader(shards[i].Bytes()[off : off+n])), nil
	}
	onFailure := erasure.WithShardFailure(func(i int, err error) { fmt.Println("shard failed:", i) })
	dec, err := codec.NewDecoder(int64(len(object)), 100, 30, open, onFailure)
	if err != nil {
		log.Fatal(err)
	}
	defer dec.Close()
	got, err := io.ReadAll(dec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", got)
	// Output:
	// shard size: 181 = 181
	// shard failed: 1
	// "way. cairns mark the way. cair"
}

func ExampleCodec_ReconstructShards() {
	codec, err := erasure.New(4, 2, erasure.WithBlockSize(64))
	if err != nil {
		log.Fatal(err)
	}
	object := []byte(strings.Repeat("repair me. ", 30))
	shards, err := codec.EncodeAll(object)
	if err != nil {
		log.Fatal(err)
	}

	// Shard 2's node was wiped and shard 0 has rotted: rebuild shard 2 from
	// the others. The rotten frame is noticed, and shard 5 read instead.
	shards[0][40] ^= 1
	open := func(i int, off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(shards[i][off : off+n])), nil
	}
	onFailure := erasure.WithShardFailure(func(i int, err error) {
		fmt.Println("shard", i, "corrupt:", errors.Is(err, erasure.ErrCorrupt))
	})
	var rebuilt bytes.Buffer
	if err := codec.ReconstructShards(int64(len(object)), []int{2}, open, []io.Writer{&rebuilt}, onFailure); err != nil {
		log.Fatal(err)
	}
	fmt.Println("rebuilt shard 2 is the original:", bytes.Equal(rebuilt.Bytes(), shards[2]))
	fmt.Println("verifies:", codec.VerifyShard(&rebuilt, int64(len(object))))
	// Output:
	// shard 0 corrupt: true
	// rebuilt shard 2 is the original: true
	// verifies: <nil>
}
