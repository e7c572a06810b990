package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"cairn/internal/clustertest"
)

// needTool returns the path of a CLI, skipping the test when it is missing
// outside CI; in CI (CI=true) a missing tool fails, so CI cannot pass by
// skipping.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI=true: .ci/run installs it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func runCLI(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(cliEnviron(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	t.Logf("%s %s (%v)", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return out.String()
}

// cliEnviron is the environment without AWS_CA_BUNDLE: the tests talk
// plain HTTP, and rclone 1.60 refuses to start at all when the variable is
// set ("LoadCustomCABundleError").
func cliEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
			out = append(out, kv)
		}
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// treeSums maps each file's path below root to its SHA-256.
func treeSums(t *testing.T, root string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what, a, b string) {
	t.Helper()
	sa, sb := treeSums(t, a), treeSums(t, b)
	if len(sa) != len(sb) {
		t.Errorf("%s: %d files vs %d", what, len(sa), len(sb))
	}
	for k, v := range sa {
		if sb[k] != v {
			t.Errorf("%s: %s differs or is missing", what, k)
		}
	}
}

func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// makeTree writes n small files in nested directories, with awkward names.
func makeTree(t *testing.T, root string, n int) {
	for i := range n {
		name := fmt.Sprintf("d%d/sub %d/file-%03d.bin", i%7, i%3, i)
		writeFile(t, filepath.Join(root, name), randomBytes(uint64(1000+i), 100+i*37))
	}
}

func awsEnv(dir string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + clustertest.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + clustertest.SecretKey,
		"AWS_DEFAULT_REGION=" + clustertest.Region,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "aws-creds"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	}
}

func TestCLIAws(t *testing.T) {
	awsBin := needTool(t, "aws")
	c := clustertest.Start(t, clustertest.Options{})
	dir := t.TempDir()
	env := awsEnv(dir)
	ep := []string{"--endpoint-url", c.Endpoint}
	awsr := func(args ...string) string {
		return runCLI(t, env, awsBin, append(append([]string(nil), ep...), args...)...)
	}
	awsr("s3", "mb", "s3://cli")

	// 100 MiB up and down: the CLI switches to multipart at 8 MiB.
	big := filepath.Join(dir, "big.bin")
	size := 100 << 20
	if testing.Short() {
		size = 20 << 20
	}
	writeFile(t, big, randomBytes(42, size))
	awsr("s3", "cp", big, "s3://cli/big.bin")
	awsr("s3", "cp", "s3://cli/big.bin", filepath.Join(dir, "big.back"))
	if fileSum(t, big) != fileSum(t, filepath.Join(dir, "big.back")) {
		t.Errorf("aws s3 cp round trip of %d bytes differs", size)
	}
	head := awsr("s3api", "head-object", "--bucket", "cli", "--key", "big.bin")
	if !strings.Contains(head, "-") || !strings.Contains(head, fmt.Sprint(size)) {
		t.Errorf("head-object of a multipart upload: %s; want a multipart ETag and the size", head)
	}

	// sync both ways, then compare.
	src := filepath.Join(dir, "tree")
	makeTree(t, src, 200)
	awsr("s3", "sync", src, "s3://cli/tree/")
	back := filepath.Join(dir, "tree.back")
	awsr("s3", "sync", "s3://cli/tree/", back)
	sameTree(t, "aws s3 sync", src, back)
	if out := awsr("s3", "sync", src, "s3://cli/tree/"); strings.Contains(out, "upload:") {
		t.Errorf("second sync uploaded again:\n%s", out)
	}
	ls := awsr("s3", "ls", "--recursive", "s3://cli/tree/")
	if n := strings.Count(ls, "\n"); n != 200 {
		t.Errorf("aws s3 ls --recursive listed %d lines; want 200", n)
	}
	awsr("s3", "rm", "--recursive", "s3://cli/tree/")
	// aws s3 ls exits 1 when nothing matches; that is the expected outcome.
	cmd := exec.Command(awsBin, append(append([]string(nil), ep...), "s3", "ls", "--recursive", "s3://cli/tree/")...)
	cmd.Env = append(cliEnviron(), env...)
	if out, _ := cmd.CombinedOutput(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("after rm --recursive: %s", out)
	}

	// Conditional calls.
	small := filepath.Join(dir, "small")
	writeFile(t, small, []byte("conditional"))
	awsr("s3api", "put-object", "--bucket", "cli", "--key", "cond", "--body", small, "--if-none-match", "*")
	cmd = exec.Command(awsBin, append(append([]string(nil), ep...), "s3api", "put-object", "--bucket", "cli", "--key", "cond", "--body", small, "--if-none-match", "*")...)
	cmd.Env = append(cliEnviron(), env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "PreconditionFailed") {
		t.Errorf("second put-object --if-none-match '*': %v %s; want PreconditionFailed", err, out)
	}
	etag := fmt.Sprintf("%x", md5Of([]byte("conditional")))
	awsr("s3api", "head-object", "--bucket", "cli", "--key", "cond", "--if-match", `"`+etag+`"`)
	cmd = exec.Command(awsBin, append(append([]string(nil), ep...), "s3api", "head-object", "--bucket", "cli", "--key", "cond", "--if-match", `"0000"`)...)
	cmd.Env = append(cliEnviron(), env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "412") {
		t.Errorf("head-object --if-match wrong: %v %s; want 412", err, out)
	}

	// Versioned calls.
	awsr("s3api", "create-bucket", "--bucket", "cli-versions")
	awsr("s3api", "put-bucket-versioning", "--bucket", "cli-versions", "--versioning-configuration", "Status=Enabled")
	if out := awsr("s3api", "get-bucket-versioning", "--bucket", "cli-versions"); !strings.Contains(out, `"Enabled"`) {
		t.Errorf("get-bucket-versioning: %s; want Enabled", out)
	}
	var ids []string
	for _, body := range []string{"first", "second"} {
		f := filepath.Join(dir, body)
		writeFile(t, f, []byte(body))
		var put struct{ VersionId string }
		if err := json.Unmarshal([]byte(awsr("s3api", "put-object", "--bucket", "cli-versions", "--key", "doc", "--body", f)), &put); err != nil || put.VersionId == "" {
			t.Fatalf("put-object in a versioned bucket: %v, version %q", err, put.VersionId)
		}
		ids = append(ids, put.VersionId)
	}
	old := filepath.Join(dir, "doc.first")
	awsr("s3api", "get-object", "--bucket", "cli-versions", "--key", "doc", "--version-id", ids[0], old)
	if b, _ := os.ReadFile(old); string(b) != "first" {
		t.Errorf("get-object --version-id of the first version: %q", b)
	}
	var del struct{ DeleteMarker bool }
	json.Unmarshal([]byte(awsr("s3api", "delete-object", "--bucket", "cli-versions", "--key", "doc")), &del)
	if !del.DeleteMarker {
		t.Errorf("delete-object in a versioned bucket made no delete marker")
	}
	var listing struct {
		Versions []struct {
			VersionId string
			IsLatest  bool
		}
		DeleteMarkers []struct {
			VersionId string
			IsLatest  bool
		}
	}
	if err := json.Unmarshal([]byte(awsr("s3api", "list-object-versions", "--bucket", "cli-versions")), &listing); err != nil {
		t.Fatal(err)
	}
	if len(listing.Versions) != 2 || len(listing.DeleteMarkers) != 1 || !listing.DeleteMarkers[0].IsLatest || listing.Versions[0].IsLatest || listing.Versions[1].IsLatest {
		t.Errorf("list-object-versions: %+v; want 2 versions under 1 latest delete marker", listing)
	}
}

func TestCLIRclone(t *testing.T) {
	rclone := needTool(t, "rclone")
	c := clustertest.Start(t, clustertest.Options{})
	dir := t.TempDir()
	conf := filepath.Join(dir, "rclone.conf")
	writeFile(t, conf, []byte(fmt.Sprintf(`[cairn]
type = s3
provider = Other
access_key_id = %s
secret_access_key = %s
region = %s
endpoint = %s
force_path_style = true
`, clustertest.AccessKey, clustertest.SecretKey, clustertest.Region, c.Endpoint)))
	rc := func(args ...string) string {
		return runCLI(t, nil, rclone, append([]string{"--config", conf, "--low-level-retries", "1", "--retries", "1"}, args...)...)
	}
	rc("mkdir", "cairn:rcl")
	src := filepath.Join(dir, "tree")
	makeTree(t, src, 200)
	writeFile(t, filepath.Join(src, "big.bin"), randomBytes(77, 12<<20))
	rc("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", src, "cairn:rcl/tree")
	rc("check", src, "cairn:rcl/tree")
	back := filepath.Join(dir, "back")
	rc("copy", "cairn:rcl/tree", back)
	sameTree(t, "rclone copy", src, back)
}

func TestCLIS3cmd(t *testing.T) {
	s3cmd := needTool(t, "s3cmd")
	c := clustertest.Start(t, clustertest.Options{})
	dir := t.TempDir()
	host := strings.TrimPrefix(c.Endpoint, "http://")
	cfg := filepath.Join(dir, "s3cfg")
	writeFile(t, cfg, []byte(fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
use_https = False
signature_v2 = False
bucket_location = %s
check_ssl_certificate = False
`, clustertest.AccessKey, clustertest.SecretKey, host, host, clustertest.Region)))
	s3c := func(args ...string) string { return runCLI(t, nil, s3cmd, append([]string{"-c", cfg}, args...)...) }
	s3c("mb", "s3://s3c")
	small := filepath.Join(dir, "small.txt")
	writeFile(t, small, []byte("hello from s3cmd"))
	s3c("put", small, "s3://s3c/small.txt")
	big := filepath.Join(dir, "big.bin")
	writeFile(t, big, randomBytes(5, 16<<20+5))
	s3c("put", "--multipart-chunk-size-mb=5", big, "s3://s3c/big.bin")
	head, err := sdkClient(t, c).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("s3c"), Key: aws.String("big.bin")})
	if err != nil || !strings.HasSuffix(aws.ToString(head.ETag), `-4"`) {
		t.Errorf("s3cmd put of 16 MiB with 5 MiB chunks: ETag %q, %v; want a 4-part multipart ETag", aws.ToString(head.ETag), err)
	}
	ls := s3c("ls", "s3://s3c")
	if !strings.Contains(ls, "s3://s3c/small.txt") || !strings.Contains(ls, "s3://s3c/big.bin") {
		t.Errorf("s3cmd ls: %s", ls)
	}
	s3c("get", "s3://s3c/big.bin", filepath.Join(dir, "big.back"))
	s3c("get", "s3://s3c/small.txt", filepath.Join(dir, "small.back"))
	if fileSum(t, big) != fileSum(t, filepath.Join(dir, "big.back")) || fileSum(t, small) != fileSum(t, filepath.Join(dir, "small.back")) {
		t.Errorf("s3cmd get returned different bytes")
	}
	s3c("del", "s3://s3c/big.bin")
	s3c("del", "s3://s3c/small.txt")
	if ls := s3c("ls", "s3://s3c"); strings.TrimSpace(ls) != "" {
		t.Errorf("s3cmd ls after del: %s", ls)
	}
}

func md5Of(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}
