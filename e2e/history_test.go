package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
)

// A history check: clients run concurrent PUT, GET and DELETE on a few keys
// through two gateways, the outcomes are recorded with their call and return
// times, and porcupine checks that the history is linearizable for a
// register per key. Writes whose outcome is unknown (an error) may or may
// not have happened: they are recorded as lasting to the end of time.

type regInput struct {
	Op    string // "put", "get", "del"
	Key   string
	Value string
}

type regOutput struct {
	Value   string // for get: what was read; "" when absent
	Unknown bool   // a write that failed: it may or may not have taken effect
}

var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(regInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(regInput), output.(regOutput)
		switch in.Op {
		case "put":
			return true, in.Value
		case "del":
			return true, ""
		default:
			return out.Value == state.(string), state
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		switch in.Op {
		case "get":
			return fmt.Sprintf("get(%s) → %q", in.Key, out.Value)
		case "put":
			return fmt.Sprintf("put(%s, %q) unknown=%v", in.Key, in.Value, out.Unknown)
		default:
			return fmt.Sprintf("del(%s) unknown=%v", in.Key, out.Unknown)
		}
	},
}

// faultPlan stops and restarts nodes as the run progresses, from a seed.
type faultPlan struct {
	every int // act after this many completed operations
	rng   *rand.Rand
	down  []*clustertest.Node
	log   []string
}

func (f *faultPlan) step(t *testing.T, c *clustertest.Cluster, done int) {
	if f == nil || done%f.every != 0 {
		return
	}
	// Keep at most two nodes down: the quorums' promise.
	if len(f.down) == 2 || (len(f.down) > 0 && f.rng.IntN(2) == 0) {
		i := f.rng.IntN(len(f.down))
		n := f.down[i]
		f.down = append(f.down[:i], f.down[i+1:]...)
		if err := n.Restart(); err != nil {
			t.Errorf("restart %s: %v", n.ID, err)
		}
		f.log = append(f.log, fmt.Sprintf("op %d: restart %s", done, n.ID))
		return
	}
	var up []*clustertest.Node
	for _, n := range c.Nodes {
		if n.Node() != nil {
			up = append(up, n)
		}
	}
	n := up[f.rng.IntN(len(up))]
	if err := n.Stop(); err != nil {
		t.Errorf("stop %s: %v", n.ID, err)
	}
	f.down = append(f.down, n)
	f.log = append(f.log, fmt.Sprintf("op %d: stop %s", done, n.ID))
}

func runHistory(t *testing.T, seed uint64, crashes bool) {
	c := clustertest.Start(t, clustertest.Options{})
	_, second := c.AddGateway(clustertest.GatewayOptions{})
	clients := []*s3.Client{sdkClient(t, c), sdkClientWith(second, clustertest.AccessKey, clustertest.SecretKey)}
	mustCreateBucket(t, clients[0], "history")

	const workers, opsEach = 4, 50
	keys := []string{"a", "b", "c"}
	var plan *faultPlan
	if crashes {
		plan = &faultPlan{every: 15, rng: rand.New(rand.NewPCG(seed, 1))}
	}
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		done    atomic.Int64
		faultMu sync.Mutex
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)+2))
			ctx := context.Background()
			for i := range opsEach {
				cl := clients[rng.IntN(len(clients))]
				in := regInput{Key: keys[rng.IntN(len(keys))]}
				switch r := rng.IntN(100); {
				case r < 40:
					in.Op, in.Value = "put", fmt.Sprintf("w%d-%d", w, i)
				case r < 85:
					in.Op = "get"
				default:
					in.Op = "del"
				}
				call := now()
				out, ok := doRegisterOp(ctx, cl, in, rng)
				ret := now()
				if out.Unknown {
					ret = math.MaxInt64 // it may take effect at any time from now on
				}
				if ok || out.Unknown {
					mu.Lock()
					history = append(history, porcupine.Operation{ClientId: w, Input: in, Call: call, Output: out, Return: ret})
					mu.Unlock()
				}
				if n := done.Add(1); plan != nil {
					faultMu.Lock()
					plan.step(t, c, int(n))
					faultMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if plan != nil {
		for _, n := range plan.down {
			n.Restart()
		}
	}
	// After the faults heal and hints drain, a final read of each key must
	// also fit the history.
	waitHintsDrained(t, c)
	for _, k := range keys {
		in := regInput{Op: "get", Key: k}
		call := now()
		out, ok := doRegisterOp(context.Background(), clients[0], in, nil)
		if !ok {
			t.Fatalf("final read of %s failed after healing", k)
		}
		history = append(history, porcupine.Operation{ClientId: workers, Input: in, Call: call, Output: out, Return: now()})
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel, history, time.Minute)
	if res != porcupine.Ok {
		path := filepath.Join(t.TempDir(), "history.html")
		if f, err := os.Create(path); err == nil {
			porcupine.Visualize(registerModel, info, f)
			f.Close()
			if keep := os.Getenv("CAIRN_HISTORY_DIR"); keep != "" {
				b, _ := os.ReadFile(path)
				os.WriteFile(filepath.Join(keep, fmt.Sprintf("history-%d.html", seed)), b, 0o644)
			}
		}
		var faults []string
		if plan != nil {
			faults = plan.log
		}
		t.Fatalf("seed %d: history of %d operations is %v (faults: %v)", seed, len(history), res, faults)
	}
	t.Logf("seed %d: %d operations linearizable", seed, len(history))
}

// doRegisterOp runs one operation; ok is false for a failed read, which
// has no effect and is left out of the history.
func doRegisterOp(ctx context.Context, cl *s3.Client, in regInput, rng *rand.Rand) (regOutput, bool) {
	switch in.Op {
	case "put":
		body := []byte(in.Value + "\n")
		if rng != nil && rng.IntN(3) == 0 {
			body = append(body, bytes.Repeat([]byte("x"), 200<<10)...) // streamed, not inline
		}
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("history"), Key: aws.String(in.Key), Body: bytes.NewReader(body)})
		return regOutput{Unknown: err != nil}, err == nil
	case "del":
		_, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("history"), Key: aws.String(in.Key)})
		return regOutput{Unknown: err != nil}, err == nil
	default:
		out, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("history"), Key: aws.String(in.Key)})
		if errorCode(err) == "NoSuchKey" {
			return regOutput{}, true
		}
		if err != nil {
			return regOutput{}, false
		}
		defer out.Body.Close()
		line, err := bufio.NewReader(out.Body).ReadString('\n')
		if err != nil {
			return regOutput{}, false
		}
		io.Copy(io.Discard, out.Body)
		return regOutput{Value: line[:len(line)-1]}, true
	}
}

func TestHistoryLinearizable(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CAIRN_HISTORY_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Run("fault-free", func(t *testing.T) {
		t.Parallel()
		runHistory(t, seed, false)
	})
	t.Run("crashes", func(t *testing.T) {
		t.Parallel()
		runHistory(t, seed+1, true)
	})
}
