package cli

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"time"

	"cairn/placement"
)

// mapEnv is a fake environment.
func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// files is a fake file system for --config.
func files(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if s, ok := m[p]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

const nodes6 = "n1=h1:9101@a,n2=h2:9101@a,n3=h3:9101@b,n4=h4:9101@b,n5=h5:9101@c,n6=h6:9101@c"

func TestLoaderPrecedence(t *testing.T) {
	const file = "listen: 10.0.0.1:1\nretries: 7\ntimeout: 7s\n"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string // contents of c.yaml, named by --config when set
		want string // listen retries timeout
	}{
		{"defaults", nil, nil, "", "127.0.0.1:9000 3 1s"},
		{"file over defaults", []string{"--config", "c.yaml"}, nil, file, "10.0.0.1:1 7 7s"},
		{"env over file", []string{"--config", "c.yaml"}, map[string]string{"CAIRN_LISTEN": "10.0.0.2:2", "CAIRN_RETRIES": "8"}, file, "10.0.0.2:2 8 7s"},
		{"flag over env", []string{"--config", "c.yaml", "--listen", "10.0.0.3:3"}, map[string]string{"CAIRN_LISTEN": "10.0.0.2:2"}, file, "10.0.0.3:3 7 7s"},
		{"config named by env", nil, map[string]string{"CAIRN_CONFIG": "c.yaml"}, file, "10.0.0.1:1 7 7s"},
		{"empty env value still wins", []string{"--config", "c.yaml"}, map[string]string{"CAIRN_LISTEN": ""}, file, " 7 7s"},
		{"flag equal to default still wins", []string{"--config", "c.yaml", "--retries", "3"}, nil, file, "10.0.0.1:1 3 7s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var listen string
			var retries int
			var timeout time.Duration
			l := NewLoader("test")
			l.SetOutput(io.Discard)
			l.String(&listen, "listen", "", "127.0.0.1:9000", "")
			l.Int(&retries, "retries", "", 3, "")
			l.Duration(&timeout, "timeout", "", time.Second, "")
			if err := l.Load(tc.args, mapEnv(tc.env), files(map[string]string{"c.yaml": tc.file})); err != nil {
				t.Fatalf("Load(%q) = %v", tc.args, err)
			}
			got := strings.Join([]string{listen, strconv.Itoa(retries), timeout.String()}, " ")
			if got != tc.want {
				t.Errorf("Load(%q, env %v) = %q; want %q", tc.args, tc.env, got, tc.want)
			}
		})
	}
}

func TestLoaderFileForms(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"list", "nodes: [a, b, c]\n", "a,b,c"},
		{"block list", "nodes:\n  - n1=h:1\n  - n2=h:2\n", "n1=h:1,n2=h:2"},
		{"string", "nodes: a,b\n", "a,b"},
		{"number", "nodes: 42\n", "42"},
		{"null", "nodes:\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v string
			l := NewLoader("test")
			l.String(&v, "nodes", "", "default", "")
			if err := l.Load([]string{"--config", "f"}, mapEnv(nil), files(map[string]string{"f": tc.file})); err != nil {
				t.Fatalf("Load(%q) = %v", tc.file, err)
			}
			if v != tc.want {
				t.Errorf("Load(%q): nodes = %q; want %q", tc.file, v, tc.want)
			}
		})
	}
}

// TestLoaderReportsAll: every bad source is reported in one error, each
// naming the setting and where its value came from.
func TestLoaderReportsAll(t *testing.T) {
	var n int
	var d time.Duration
	var s string
	l := NewLoader("test")
	l.Int(&n, "count", "", 1, "")
	l.Duration(&d, "wait", "", time.Second, "")
	l.String(&s, "name", "", "", "")
	file := "wait: soon\nbogus: 1\nname: {a: 1}\n"
	err := l.Load([]string{"--config", "f", "--count", "x"}, mapEnv(nil), files(map[string]string{"f": file}))
	if err == nil {
		t.Fatal("Load = nil; want errors")
	}
	for _, want := range []string{
		`--count "x" (from flag): not an integer`,
		`--wait "soon" (from config file f): not a duration`,
		`unknown setting "bogus"`,
		`name: want a value or a list`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load error = %q; want it to contain %q", err, want)
		}
	}
}

func TestLoaderMissingFile(t *testing.T) {
	var s string
	l := NewLoader("test")
	l.String(&s, "name", "", "", "")
	err := l.Load([]string{"--config", "nope.yaml"}, mapEnv(nil), files(nil))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(--config nope.yaml) = %v; want fs.ErrNotExist", err)
	}
}

func TestLoadGateway(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		wantErr []string // substrings; nil means success
		check   func(*GatewayConfig) string
	}{
		{
			name: "flags only",
			args: []string{"--nodes", nodes6, "--admin", "127.0.0.1:9001"},
			check: func(c *GatewayConfig) string {
				if c.DataShards != 4 || c.ParityShards != 2 || len(c.Layout.Nodes) != 6 || c.Admin != "127.0.0.1:9001" {
					return "want 4+2 over 6 nodes, admin 127.0.0.1:9001"
				}
				return ""
			},
		},
		{
			name: "file, env and flags",
			args: []string{"--config", "gw.yaml", "--ec", "3+2"},
			env:  map[string]string{"CAIRN_ACCESS_KEY": "envkey", "CAIRN_LOG_FORMAT": "json"},
			file: "nodes: [n1=h1:1@a, n2=h2:1@a, n3=h3:1@b, n4=h4:1@b, n5=h5:1@c]\naccess-key: filekey\nsecret-key: filesecret\nec: 8+4\n",
			check: func(c *GatewayConfig) string {
				if c.DataShards != 3 || c.AccessKey != "envkey" || c.SecretKey != "filesecret" || c.Log.Format != "json" || len(c.Layout.Nodes) != 5 {
					return "want ec from flag, access key from env, secret from file, 5 nodes"
				}
				return ""
			},
		},
		{
			name: "every problem at once",
			args: []string{"--listen", "nowhere", "--ec", "4-2", "--log-level", "loud", "--gossip", "host:7945"},
			env:  map[string]string{"CAIRN_INLINE_THRESHOLD": "big", "CAIRN_SECRET_KEY": ""},
			wantErr: []string{
				`--listen "nowhere": want host:port`,
				`--ec "4-2": want data+parity`,
				`--nodes: no storage nodes given`,
				`--log-level "loud"`,
				`--gossip "host:7945": the host must be an IP address`,
				`--inline-threshold "big" (from env CAIRN_INLINE_THRESHOLD): not an integer`,
				`--secret-key: required`,
			},
		},
		{
			name:    "too few nodes for the code",
			args:    []string{"--nodes", "n1=h:1,n2=h:2", "--ec", "4+2"},
			wantErr: []string{"2 nodes cannot hold 4+2 shards"},
		},
		{
			name: "version skips validation",
			args: []string{"--version", "--listen", "bad"},
			check: func(c *GatewayConfig) string {
				return map[bool]string{true: "", false: "want ShowVersion"}[c.ShowVersion]
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadGateway(tc.args, mapEnv(tc.env), files(map[string]string{"gw.yaml": tc.file}), io.Discard)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("LoadGateway(%q) = nil error; want %q", tc.args, tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("LoadGateway(%q) error = %q; want it to contain %q", tc.args, err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadGateway(%q) = %v", tc.args, err)
			}
			if msg := tc.check(c); msg != "" {
				t.Errorf("LoadGateway(%q) = %+v; %s", tc.args, c, msg)
			}
		})
	}
}

func TestLoadNode(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr []string
		want    string // Advertise on success
	}{
		{"minimal", []string{"--id", "n1", "--data", "/d", "--nodes", nodes6}, nil, nil, "127.0.0.1:9101"},
		{"env names kept", nil, map[string]string{"CAIRN_NODE_ID": "n2", "CAIRN_DATA_DIR": "/d", "CAIRN_NODES": nodes6}, nil, "127.0.0.1:9101"},
		{"zone repeated", []string{"--id", "n3", "--data", "/d", "--nodes", nodes6, "--zone", "b"}, nil, nil, "127.0.0.1:9101"},
		{"zone contradicts layout", []string{"--id", "n3", "--data", "/d", "--nodes", nodes6, "--zone", "a"}, nil, []string{`--zone "a": --nodes puts n3 in zone "b"`}, ""},
		{"not in the layout yet: joins unassigned", []string{"--id", "n7", "--data", "/d", "--nodes", nodes6, "--zone", "c"}, nil, nil, "127.0.0.1:9101"},
		{"advertise for a wildcard listen", []string{"--id", "n1", "--data", "/d", "--nodes", nodes6, "--listen", "0.0.0.0:9101", "--advertise", "h1:9101"}, nil, nil, "h1:9101"},
		{"handoff tuned", []string{"--id", "n1", "--data", "/d", "--nodes", nodes6, "--replay-rate", "1048576", "--hint-window", "10m"}, nil, nil, "127.0.0.1:9101"},
		{"handoff off", []string{"--id", "n1", "--data", "/d", "--nodes", nodes6, "--replay-rate", "0"}, nil, []string{"--replay-rate, --rebalance-rate, --max-hint-bytes and --hint-window: must be positive"}, ""},
		{
			name: "every problem at once",
			args: []string{"--listen", "0.0.0.0:9101", "--admin", "x", "--nodes", nodes6, "--id", "n9", "--gossip-profile", "wan", "--gossip-key", "short", "--scan-interval", "0s"},
			wantErr: []string{
				"--data: required",
				`--admin "x": want host:port`,
				`--advertise: required when --listen "0.0.0.0:9101" binds every interface`,
				"--scan-interval 0s: must be positive",
				`--gossip-profile "wan"`,
				"--gossip-key: 5 bytes",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadNode(tc.args, mapEnv(tc.env), files(nil), io.Discard)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("LoadNode(%q) = nil error; want %q", tc.args, tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("LoadNode(%q) error = %q; want it to contain %q", tc.args, err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadNode(%q) = %v", tc.args, err)
			}
			if c.Advertise != tc.want {
				t.Errorf("LoadNode(%q).Advertise = %q; want %q", tc.args, c.Advertise, tc.want)
			}
			// A node the layout lacks takes --zone, or "default".
			if nd, in := c.Layout.Node(placement.NodeID(c.ID)); in && c.Zone != nd.Zone || c.Zone == "" {
				t.Errorf("LoadNode(%q).Zone = %q; want %q, the layout's", tc.args, c.Zone, nd.Zone)
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	var out strings.Builder
	_, err := LoadNode([]string{"-h"}, mapEnv(nil), files(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("LoadNode(-h) = %v; want flag.ErrHelp", err)
	}
	// benchmarks/local.go reads "  -gossip" style lines to learn the flags.
	for _, want := range []string{"  -gossip", "  -admin", "  -config", "env CAIRN_DATA_DIR"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("LoadNode(-h) usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestVersion(t *testing.T) {
	got := Version("objgw")
	if !strings.HasPrefix(got, "objgw ") || !strings.Contains(got, "commit ") {
		t.Errorf("Version(objgw) = %q; want objgw <version> (commit …)", got)
	}
}
