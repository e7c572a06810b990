package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/clustertest"
	"cairn/node"
)

// runLifecycle runs a lifecycle pass as of now on every node, once every
// node holds the bucket's rules, and returns the summed counters.
func runLifecycle(t *testing.T, c *clustertest.Cluster, bucket string, now time.Time) node.LifecycleStat {
	t.Helper()
	ctx := context.Background()
	eventually(t, 5*time.Second, func() string {
		for _, cn := range c.Nodes {
			bs, err := cn.Node().Buckets(ctx)
			if err != nil {
				return err.Error()
			}
			for _, b := range bs {
				if b.Name == bucket && b.Lifecycle == nil {
					return cn.ID + " lacks the rules"
				}
			}
		}
		return ""
	})
	var sum node.LifecycleStat
	for _, cn := range c.Nodes {
		if err := cn.Node().RunLifecycle(ctx, now); err != nil {
			t.Fatalf("RunLifecycle on %s: %v", cn.ID, err)
		}
		stats, err := cn.Node().LifecycleStats()
		if err != nil {
			t.Fatal(err)
		}
		st := stats[bucket]
		if st.InProgress || st.LastKey != "" || !st.LastPass.Equal(now) {
			t.Errorf("%s: checkpoint after a full pass = %+v; want the pass closed at %v", cn.ID, st, now)
		}
		sum.Expired += st.Expired
		sum.NoncurrentExpired += st.NoncurrentExpired
		sum.MarkersRemoved += st.MarkersRemoved
		sum.Failed += st.Failed
	}
	return sum
}

func TestLifecycleExpiration(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	ctx := context.Background()
	mustCreateBucket(t, cl, "lcexp")
	for _, k := range []string{"logs/a", "logs/b", "keep/c"} {
		put(t, cl, "lcexp", k, []byte("body of "+k))
	}
	_, err := cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("lcexp"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("logs"), Status: types.ExpirationStatusEnabled,
			Filter:     &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)},
		}}}})
	if err != nil {
		t.Fatalf("PutBucketLifecycleConfiguration: %v", err)
	}
	got, err := cl.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("lcexp")})
	if err != nil {
		t.Fatalf("GetBucketLifecycleConfiguration: %v", err)
	}
	if len(got.Rules) != 1 || aws.ToString(got.Rules[0].ID) != "logs" || got.Rules[0].Expiration == nil ||
		aws.ToInt32(got.Rules[0].Expiration.Days) != 1 || got.Rules[0].Filter == nil || aws.ToString(got.Rules[0].Filter.Prefix) != "logs/" {
		t.Errorf("GetBucketLifecycleConfiguration = %+v; want the rule put", got.Rules)
	}

	if st := runLifecycle(t, c, "lcexp", time.Now()); st.Expired != 0 {
		t.Errorf("pass today expired %d objects; want 0", st.Expired)
	}
	st := runLifecycle(t, c, "lcexp", time.Now().Add(50*time.Hour))
	// Only the first live home acts: each object expires once.
	if st.Expired != 2 || st.Failed != 0 {
		t.Errorf("pass two days on: expired %d, failed %d; want 2, 0", st.Expired, st.Failed)
	}
	for k, want := range map[string]string{"logs/a": "NoSuchKey", "logs/b": "NoSuchKey", "keep/c": ""} {
		_, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lcexp"), Key: aws.String(k)})
		if errorCode(err) != want {
			t.Errorf("GET %s after expiry: %v; want %q", k, err, want)
		}
	}

	if _, err := cl.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String("lcexp")}); err != nil {
		t.Fatalf("DeleteBucketLifecycle: %v", err)
	}
	_, err = cl.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("lcexp")})
	if errorCode(err) != "NoSuchLifecycleConfiguration" {
		t.Errorf("GET lifecycle after delete: %v; want NoSuchLifecycleConfiguration", err)
	}
}

func TestLifecycleVersions(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	ctx := context.Background()
	mustCreateBucket(t, cl, "lcv")
	setVersioning(t, cl, "lcv", types.BucketVersioningStatusEnabled)
	var ids []string
	for _, body := range []string{"one", "two", "three"} {
		out := put(t, cl, "lcv", "k", []byte(body))
		ids = append(ids, aws.ToString(out.VersionId))
	}
	// m: a delete marker left alone once its only version is deleted.
	mv := aws.ToString(put(t, cl, "lcv", "m", []byte("m")).VersionId)
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("lcv"), Key: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("lcv"), Key: aws.String("m"), VersionId: aws.String(mv)}); err != nil {
		t.Fatal(err)
	}
	_, err := cl.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("lcv"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("old"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1),
				NewerNoncurrentVersions: aws.Int32(1)},
		}, {
			ID: aws.String("markers"), Status: types.ExpirationStatusEnabled,
			Filter:     &types.LifecycleRuleFilter{Prefix: aws.String("m")},
			Expiration: &types.LifecycleExpiration{ExpiredObjectDeleteMarker: aws.Bool(true)},
		}}}})
	if err != nil {
		t.Fatalf("PutBucketLifecycleConfiguration: %v", err)
	}
	st := runLifecycle(t, c, "lcv", time.Now().Add(50*time.Hour))
	if st.NoncurrentExpired != 1 || st.MarkersRemoved != 1 || st.Expired != 0 || st.Failed != 0 {
		t.Errorf("pass: %+v; want 1 noncurrent version purged, 1 marker removed", st)
	}
	out, err := cl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("lcv")})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, v := range out.Versions {
		left = append(left, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
	}
	for _, m := range out.DeleteMarkers {
		left = append(left, aws.ToString(m.Key)+"@marker")
	}
	// The newest noncurrent version is kept (NewerNoncurrentVersions 1).
	if want := "k@" + ids[2] + " k@" + ids[1]; strings.Join(left, " ") != want {
		t.Errorf("versions after the pass = %v; want %s", left, want)
	}
}
