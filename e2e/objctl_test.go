package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"cairn/internal/adminapi"
	"cairn/internal/clustertest"
	"cairn/internal/objctl"
)

// objctlRunner runs objctl in-process against an admin API, as the binary
// would with CAIRN_ADMIN_ENDPOINT and the cluster's admin key set.
type objctlRunner struct {
	t        *testing.T
	endpoint string
}

func (r objctlRunner) run(args ...string) (stdout, stderr string, err error) {
	r.t.Helper()
	vars := map[string]string{
		"CAIRN_ADMIN_ENDPOINT": r.endpoint,
		"CAIRN_ACCESS_KEY":     clustertest.AccessKey,
		"CAIRN_SECRET_KEY":     clustertest.SecretKey,
		"CAIRN_REGION":         clustertest.Region,
	}
	var out, errOut bytes.Buffer
	err = objctl.Run(r.t.Context(), args, objctl.Env{
		Stdin:  strings.NewReader(""),
		Stdout: &out, Stderr: &errOut,
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
	})
	return out.String(), errOut.String(), err
}

// must runs objctl and fails the test if it fails.
func (r objctlRunner) must(args ...string) string {
	r.t.Helper()
	out, errOut, err := r.run(args...)
	if err != nil {
		r.t.Fatalf("objctl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// tableRow finds the line of a table whose first column is first and
// returns its columns.
func tableRow(out, first string) []string {
	sep := regexp.MustCompile(`\s{2,}`)
	for _, l := range strings.Split(out, "\n") {
		if cols := sep.Split(strings.TrimSpace(l), -1); cols[0] == first {
			return cols
		}
	}
	return nil
}

// TestObjctl drives objctl's read-only commands and a staged layout change
// against a real cluster's admin API: status, layout show, durability,
// then add-node, its preview, and revert.
func TestObjctl(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "ops")
	for i := range 6 {
		put(t, cl, "ops", fmt.Sprintf("obj/%d", i), randomBytes(uint64(i), (i+1)*200<<10))
	}
	admin := httptest.NewServer(c.Gateway.AdminHandler())
	t.Cleanup(admin.Close)
	ctl := objctlRunner{t: t, endpoint: admin.URL}

	out := ctl.must("status")
	if !strings.Contains(out, "EC 4+2") || !strings.Contains(out, "6 of 6 nodes alive") {
		t.Errorf("status header:\n%s", out)
	}
	for _, n := range c.Nodes {
		row := tableRow(out, n.ID)
		if len(row) < 4 || row[1] != "z1" || row[2] != "active" || row[3] != "yes" {
			t.Errorf("status row of %s: %q\n%s", n.ID, row, out)
		}
	}
	if row := tableRow(out, "lost"); len(row) != 3 || row[1] != "0" {
		t.Errorf("status reports lost objects: %q", row)
	}

	out = ctl.must("layout", "show")
	if !strings.Contains(out, "Nothing staged.") {
		t.Errorf("layout show with nothing staged:\n%s", out)
	}
	for _, n := range c.Nodes {
		if row := tableRow(out, n.ID); strings.Join(row, " ") != n.ID+" z1 1 active" {
			t.Errorf("layout row of %s: %q", n.ID, row)
		}
	}

	out = ctl.must("durability", "--afr", "0.03")
	for _, want := range []string{"Erasure code 4+2 over 6 disks, each failing at 3% a year.", "nines"} {
		if !strings.Contains(out, want) {
			t.Errorf("durability lacks %q:\n%s", want, out)
		}
	}

	n7 := c.AddNode("z2")
	out = ctl.must("layout", "add-node", n7.ID, "--zone", "z2")
	if row := tableRow(out[strings.Index(out, "Staged change:"):], n7.ID); strings.Join(row, " ") != n7.ID+" z2 1 active new" {
		t.Errorf("staged row of %s: %q\n%s", n7.ID, row, out)
	}

	// The text preview says what the API's preview says.
	raw := ctl.must("--json", "layout", "show")
	var view adminapi.LayoutView
	if err := json.Unmarshal([]byte(raw), &view); err != nil {
		t.Fatalf("layout show --json: %v\n%s", err, raw)
	}
	p := view.Preview
	if p == nil || p.PGsMoved == 0 || p.In[n7.ID] != p.ShardsMoved || len(p.Problems) > 0 {
		t.Fatalf("preview of adding %s: %+v", n7.ID, p)
	}
	out = ctl.must("layout", "show")
	want := fmt.Sprintf("Preview: %d placement groups get a new home; %d shard moves, about %s to copy.",
		p.PGsMoved, p.ShardsMoved, adminapi.FormatBytes(p.BytesMoved))
	if !strings.Contains(out, want) {
		t.Errorf("layout show lacks %q:\n%s", want, out)
	}
	if row := tableRow(out[strings.LastIndex(out, "NODE  IN"):], n7.ID); strings.Join(row, " ") != fmt.Sprintf("%s %d 0", n7.ID, p.ShardsMoved) {
		t.Errorf("moves row of %s: %q", n7.ID, row)
	}

	// Off a terminal, apply needs --yes; the change stays staged.
	if _, _, err := ctl.run("layout", "apply"); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("apply without --yes: %v", err)
	}

	out = ctl.must("layout", "revert")
	if !strings.Contains(out, "Dropped the staged change") {
		t.Errorf("revert said %q", out)
	}
	out = ctl.must("layout", "show")
	if !strings.Contains(out, "Nothing staged.") || tableRow(out, n7.ID) != nil {
		t.Errorf("layout after revert:\n%s", out)
	}
	if l := c.Gateway.Layout(); len(l.Nodes) != 6 {
		t.Errorf("the layout has %d nodes after revert", len(l.Nodes))
	}
}
