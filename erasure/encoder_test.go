package erasure_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/synctest"

	"cairn/erasure"
)

var errDisk = errors.New("test: disk failed")

// failWriter takes limit bytes, then fails every write. It counts the
// writes it sees after failing, which a dropped shard must never get.
type failWriter struct {
	bytes.Buffer
	limit      int
	afterFail  int
	failedOnce bool
	short      bool // fail with a short write and no error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if w.failedOnce {
		w.afterFail++
	}
	if w.Len()+len(p) > w.limit {
		w.failedOnce = true
		if w.short {
			return 0, nil
		}
		return 0, errDisk
	}
	return w.Buffer.Write(p)
}

func TestEncoderFailingWriters(t *testing.T) {
	const bs = 1000
	c := newCodec(t, 4, 2, bs)
	size := 5*bs + 17
	data := randBytes(2, size)
	stride := 32 + 250
	tests := []struct {
		fail  map[int]int // shard -> bytes it takes before failing
		short bool
		ok    bool
	}{
		{fail: map[int]int{0: 0}, ok: true},
		{fail: map[int]int{5: 2 * stride}, ok: true},
		{fail: map[int]int{1: stride, 3: 4 * stride}, ok: true},
		{fail: map[int]int{2: 0, 4: 3 * stride}, short: true, ok: true},
		{fail: map[int]int{0: 0, 1: 0, 2: 0}, ok: false},
		{fail: map[int]int{0: 5 * stride, 4: 5 * stride, 5: 5 * stride}, ok: false}, // fails in Close
		{fail: map[int]int{1: stride, 3: 2 * stride, 5: 3 * stride}, short: true, ok: false},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("fail %v short %v", tc.fail, tc.short)
		ws := make([]io.Writer, c.TotalShards())
		fws := make([]*failWriter, c.TotalShards())
		for i := range ws {
			fws[i] = &failWriter{limit: 1 << 30, short: tc.short}
			if lim, ok := tc.fail[i]; ok {
				fws[i].limit = lim
			}
			ws[i] = fws[i]
		}
		e := c.NewEncoder(ws)
		var err error
		for p := data; len(p) > 0 && err == nil; {
			var n int
			n, err = e.Write(p[:min(len(p), 777)])
			p = p[n:]
		}
		if cerr := e.Close(); err == nil {
			err = cerr
		}
		if tc.ok != (err == nil) {
			t.Errorf("%s: encode error = %v; want ok=%v", name, err, tc.ok)
		}
		if !tc.ok && !errors.Is(err, erasure.ErrTooFewShards) {
			t.Errorf("%s: encode error = %v; want ErrTooFewShards", name, err)
		}
		if _, werr := e.Write([]byte{1}); werr == nil {
			t.Errorf("%s: Write after Close succeeded", name)
		}
		serrs := e.ShardErrors()
		for i, fw := range fws {
			_, failing := tc.fail[i]
			if fw.afterFail != 0 {
				t.Errorf("%s: shard %d written %d times after failing", name, i, fw.afterFail)
			}
			if !tc.ok {
				continue
			}
			if failing != (serrs[i] != nil) {
				t.Errorf("%s: ShardErrors()[%d] = %v; want failed=%v", name, i, serrs[i], failing)
			}
			if failing && tc.short && !errors.Is(serrs[i], io.ErrShortWrite) {
				t.Errorf("%s: ShardErrors()[%d] = %v; want io.ErrShortWrite", name, i, serrs[i])
			}
			if failing && !tc.short && !errors.Is(serrs[i], errDisk) {
				t.Errorf("%s: ShardErrors()[%d] = %v; want the writer's error", name, i, serrs[i])
			}
		}
		if !tc.ok {
			continue
		}
		// What the failed shards hold is a prefix of frames: decode both
		// with those shards missing and with their partial contents.
		shards := make([][]byte, len(fws))
		for i, fw := range fws {
			shards[i] = fw.Bytes()
		}
		for _, partial := range []bool{false, true} {
			s := newStore(t, shards)
			for i := range tc.fail {
				if partial {
					s.short[i] = len(shards[i])
					shards[i] = append(shards[i], make([]byte, int(c.ShardFileSize(int64(size)))-len(shards[i]))...)
				} else {
					s.missing[i] = true
				}
			}
			got, err := readRange(t, c, int64(size), 0, int64(size), s)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: decode (partial %v) = %d bytes, %v; want the original", name, partial, len(got), err)
			}
		}
	}
}

func TestEncoderNilWriters(t *testing.T) {
	c := newCodec(t, 2, 1, 100)
	var b0, b1 bytes.Buffer
	e := c.NewEncoder([]io.Writer{&b0, nil, &b1})
	if _, err := e.Write([]byte("hello")); err != nil {
		t.Errorf("Write with one nil writer of 2+1 = %v; want nil", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close with one nil writer of 2+1 = %v; want nil", err)
	}
	e = c.NewEncoder([]io.Writer{&b0})
	if _, err := e.Write([]byte("hello")); !errors.Is(err, erasure.ErrTooFewShards) {
		t.Errorf("Write with 1 of 3 writers = %v; want ErrTooFewShards", err)
	}
	if err := e.Close(); !errors.Is(err, erasure.ErrTooFewShards) {
		t.Errorf("Close with 1 of 3 writers = %v; want ErrTooFewShards", err)
	}
}

func TestEncoderCloseTwiceAndEmpty(t *testing.T) {
	c := newCodec(t, 3, 2, 100)
	ws := make([]io.Writer, 5)
	bufs := make([]bytes.Buffer, 5)
	for i := range ws {
		ws[i] = &bufs[i]
	}
	e := c.NewEncoder(ws)
	if err := e.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close() = %v; want nil", err)
	}
	for i := range bufs {
		if bufs[i].Len() != 0 {
			t.Errorf("empty object: shard %d has %d bytes; want 0", i, bufs[i].Len())
		}
	}
	if _, err := e.Write([]byte("x")); !errors.Is(err, erasure.ErrClosed) {
		t.Errorf("Write after Close = %v; want ErrClosed", err)
	}
}

// TestNoGoroutineLeak runs encoders and decoders, failing and not, in a
// synctest bubble, which fails the test if any goroutine they start is
// left blocked when they are done.
func TestNoGoroutineLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCodec(t, 4, 2, 512)
		data := randBytes(4, 4000)
		shards := encodeStream(t, c, data, 300)

		ws := make([]io.Writer, 6)
		for i := range ws {
			ws[i] = &failWriter{limit: 1000}
		}
		e := c.NewEncoder(ws)
		if _, err := e.Write(data); !errors.Is(err, erasure.ErrTooFewShards) {
			t.Errorf("Write with every writer failing = %v; want ErrTooFewShards", err)
		}
		e.Close()

		s := newStore(t, shards)
		s.missing[0] = true
		s.short[1] = 1000
		if got, err := readRange(t, c, 4000, 100, 3000, s); err != nil || !bytes.Equal(got, data[100:3100]) {
			t.Errorf("decode = %d bytes, %v", len(got), err)
		}
		s.missing[2] = true
		if _, err := readRange(t, c, 4000, 0, 4000, s); !errors.Is(err, erasure.ErrTooFewShards) {
			t.Errorf("decode with 3 bad shards = %v; want ErrTooFewShards", err)
		}
	})
}
