package e2e

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"cairn/internal/clustertest"
	"cairn/internal/objctl"
)

// chromium finds a Chromium binary. Outside CI a machine without one skips
// the test; in CI (CI=true) that is a failure, since .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (.ci/run installs it)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// TestClusterPageScreenshot renders the cluster page of a live cluster in
// headless Chromium and checks that the screenshot shows something: the
// page needs no JavaScript, so what the browser paints at load is all of
// it. CAIRN_UPDATE_SCREENSHOT=1 copies it to docs/img/cluster-page.png;
// `go test -artifacts` keeps it.
func TestClusterPageScreenshot(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	c := clustertest.Start(t, clustertest.Options{})
	cl := sdkClient(t, c)
	mustCreateBucket(t, cl, "photos")
	mustCreateBucket(t, cl, "logs")
	for i := range 12 {
		put(t, cl, "photos", fmt.Sprintf("img/%02d.jpg", i), randomBytes(uint64(i), (i%4+1)*300<<10))
		put(t, cl, "logs", fmt.Sprintf("app/%02d.log", i), randomBytes(uint64(100+i), 40<<10))
	}
	admin := httptest.NewServer(c.Gateway.AdminHandler())
	t.Cleanup(admin.Close)

	// A scanner pass fills in the shard counts and the durability
	// histogram the page draws.
	ctl, err := objctl.NewClient(admin.URL, clustertest.AccessKey, clustertest.SecretKey, clustertest.Region, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Heal(t.Context(), ""); err != nil {
		t.Fatalf("heal: %v", err)
	}
	eventually(t, 30*time.Second, func() string {
		st, err := ctl.Status(t.Context())
		if err != nil {
			return err.Error()
		}
		var counted int64
		for _, n := range st.Durability.Objects {
			counted += n
		}
		if counted < 24 {
			return fmt.Sprintf("the histogram counts %d of 24 objects", counted)
		}
		return ""
	})
	if os.Getenv("CAIRN_UPDATE_SCREENSHOT") == "1" {
		// The picture in the docs shows the throughput sparkline too: the
		// gateway samples traffic every few seconds.
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			get(t, cl, "photos", fmt.Sprintf("img/%02d.jpg", i%12), nil)
		}
	}

	shot := filepath.Join(t.ArtifactDir(), "cluster-page.png")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--screenshot="+shot, "--window-size=1280,900", admin.URL+"/cluster")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Errorf("screenshot is %v, want 1280×900", b)
	}
	painted, alive := inspect(img)
	// Text, boxes and bars cover well over a few percent of the window;
	// a blank or error page does not.
	if total := img.Bounds().Dx() * img.Bounds().Dy(); painted < total/50 {
		t.Errorf("only %d of %d pixels differ from the background", painted, total)
	}
	// Six nodes up: six green liveness dots of some 90 pixels each.
	if alive < 6*50 {
		t.Errorf("%d pixels of the alive-node green: the six nodes were not drawn as alive", alive)
	}
	t.Logf("screenshot %s: %d pixels painted, %d alive-green", shot, painted, alive)

	if os.Getenv("CAIRN_UPDATE_SCREENSHOT") == "1" {
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join("..", "docs", "img", "cluster-page.png")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", dst)
	}
}

// aliveGreen is the fill of an alive node's dot on the cluster page.
var aliveGreen = color.RGBA{0x22, 0xa0, 0x45, 0xff}

// inspect counts the pixels that differ from the page's background (its
// top-left pixel) and those of the alive-node green.
func inspect(img image.Image) (painted, alive int) {
	b := img.Bounds()
	bg := color.RGBAModel.Convert(img.At(b.Min.X, b.Min.Y)).(color.RGBA)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if p != bg {
				painted++
			}
			if near(p, aliveGreen) {
				alive++
			}
		}
	}
	return painted, alive
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int { return max(int(x), int(y)) - min(int(x), int(y)) }
	return d(a.R, b.R) <= 6 && d(a.G, b.G) <= 6 && d(a.B, b.B) <= 6
}
