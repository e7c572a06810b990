package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
)

// Two gateways whose clocks are 5 minutes ahead and 5 minutes behind: a
// client alternating between them always reads its own latest write, and a
// delete through the lagging one sticks.
func TestClockSkewBetweenGateways(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	_, aheadURL := c.AddGateway(clustertest.GatewayOptions{Now: func() time.Time { return time.Now().Add(5 * time.Minute) }})
	behindGW, behindURL := c.AddGateway(clustertest.GatewayOptions{Now: func() time.Time { return time.Now().Add(-5 * time.Minute) }})
	// The SDK signs with the real time; both gateways accept 15 minutes of skew.
	ahead := sdkClientWith(aheadURL, clustertest.AccessKey, clustertest.SecretKey)
	behind := sdkClientWith(behindURL, clustertest.AccessKey, clustertest.SecretKey)
	ctx := context.Background()
	mustCreateBucket(t, ahead, "skew")
	for round := range 10 {
		for i, cl := range []*s3.Client{ahead, behind, behind, ahead} {
			body := fmt.Sprintf("round %d write %d", round, i)
			size := len(body)
			data := []byte(body)
			if round%2 == 1 {
				data = randomBytes(uint64(round*10+i), 300<<10+size) // streamed, not inline
			}
			put(t, cl, "skew", "key", data)
			for _, reader := range []*s3.Client{ahead, behind} {
				got, _ := get(t, reader, "skew", "key", nil)
				sameBytes(t, fmt.Sprintf("round %d: read after write %d", round, i), got, data)
			}
		}
	}
	// The lagging gateway's small writes skip the ordering read; the homes'
	// refusals are what kept them in order above.
	if n := behindGW.Stats().RestampedWrites.Load(); n == 0 {
		t.Error("the lagging gateway never stamped a small write again; its writes were not checked against newer records")
	}
	put(t, ahead, "skew", "gone", []byte("x"))
	if _, err := behind.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("skew"), Key: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ahead.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("skew"), Key: aws.String("gone")}); errorCode(err) != "NotFound" {
		t.Errorf("HEAD after a delete through the lagging gateway: %v; want NotFound", err)
	}
}
