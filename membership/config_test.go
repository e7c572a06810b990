package membership

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func validConfig() Config {
	c := DefaultConfig()
	c.ID, c.Role, c.Addr = "n1", RoleNode, "10.0.0.1:7070"
	return c
}

// zoneForMeta returns a zone that makes c's metadata, leaving flag included,
// exactly size bytes long.
func zoneForMeta(t *testing.T, c Config, size int) string {
	t.Helper()
	md := c.meta()
	md.Leaving = true
	md.Zone = "z"
	b, err := encodeMeta(md)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Repeat("z", 1+size-len(b))
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // one substring per reported problem; nil for valid
	}{
		{"default with identity", func(*Config) {}, nil},
		{"gateway with everything", func(c *Config) {
			c.Role, c.Zone, c.AdminAddr = RoleGateway, "rack-1", "10.0.0.1:9001"
			c.AdvertiseAddr, c.AdvertisePort = "192.0.2.7", 17946
			c.Seeds = []string{"10.0.0.2:7946", "n3.example"}
			c.Profile, c.SecretKey = ProfileLocal, make([]byte, 32)
		}, nil},
		{"port 0", func(c *Config) { c.BindPort = 0 }, nil},
		{"24-byte key", func(c *Config) { c.SecretKey = make([]byte, 24) }, nil},
		{"missing ID", func(c *Config) { c.ID = "" }, []string{"ID: empty"}},
		{"ID with space", func(c *Config) { c.ID = "n 1" }, []string{"not a letter"}},
		{"ID with slash", func(c *Config) { c.ID = "n/1" }, []string{"not a letter"}},
		{"ID too long", func(c *Config) { c.ID = strings.Repeat("n", maxIDLen+1) }, []string{"at most 64"}},
		{"ID at limit", func(c *Config) { c.ID = strings.Repeat("n", maxIDLen) }, nil},
		{"empty role", func(c *Config) { c.Role = "" }, []string{"Role"}},
		{"bad role", func(c *Config) { c.Role = "storage" }, []string{`Role "storage"`}},
		{"missing addr", func(c *Config) { c.Addr = "" }, []string{"Addr: empty"}},
		{"bind hostname", func(c *Config) { c.BindAddr = "localhost" }, []string{"BindAddr"}},
		{"bind port too big", func(c *Config) { c.BindPort = 65536 }, []string{"BindPort"}},
		{"negative bind port", func(c *Config) { c.BindPort = -1 }, []string{"BindPort"}},
		{"advertise hostname", func(c *Config) { c.AdvertiseAddr = "gw.example" }, []string{"AdvertiseAddr"}},
		{"advertise port", func(c *Config) { c.AdvertisePort = 70000 }, []string{"AdvertisePort"}},
		{"empty seed", func(c *Config) { c.Seeds = []string{"10.0.0.2:7946", ""} }, []string{"Seeds[1]"}},
		{"seed with space", func(c *Config) { c.Seeds = []string{"10.0.0.2 :7946"} }, []string{"Seeds[0]"}},
		{"unknown profile", func(c *Config) { c.Profile = "wan" }, []string{`Profile "wan"`}},
		{"key 10 bytes", func(c *Config) { c.SecretKey = make([]byte, 10) }, []string{"SecretKey: 10 bytes"}},
		{"key 33 bytes", func(c *Config) { c.SecretKey = make([]byte, 33) }, []string{"SecretKey: 33 bytes"}},
		{"meta at limit", func(c *Config) { c.Zone = zoneForMeta(t, *c, memberlist.MetaMaxSize) }, nil},
		{"meta one byte over", func(c *Config) { c.Zone = zoneForMeta(t, *c, memberlist.MetaMaxSize+1) },
			[]string{"metadata is 513 bytes"}},
		{"meta far over", func(c *Config) { c.AdminAddr = strings.Repeat("a", 600) }, []string{"metadata is"}},
		{"everything wrong at once", func(c *Config) {
			c.ID, c.Role, c.Addr, c.BindAddr, c.Profile, c.SecretKey = "", "x", "", "", "?", []byte("short")
		}, []string{"ID", "Role", "Addr", "BindAddr", "Profile", "SecretKey"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v; want an error wrapping ErrInvalidConfig", err)
			}
			var got []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				got = j.Unwrap()
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Validate() reported %d problems: %v; want %d", len(got), err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i].Error(), w) {
					t.Errorf("Validate() problem %d = %q; want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	c := validConfig()
	c.ID = ""
	c.SecretKey = []byte("short")
	m, err := New(c)
	if m != nil || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New(bad) = %v, %v; want nil, ErrInvalidConfig", m, err)
	}
	if !strings.Contains(err.Error(), "ID") || !strings.Contains(err.Error(), "SecretKey") {
		t.Errorf("New(bad) = %v; want both problems reported", err)
	}
}

func TestNewDoesNotAliasConfig(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "n1", RoleNode)
	cfg.Seeds = []string{"127.0.0.1:1"}
	cfg.SecretKey = []byte("0123456789abcdef")
	m := start(t, cfg)
	cfg.Seeds[0] = "changed"
	cfg.SecretKey[0] = 'X'
	if m.cfg.Seeds[0] != "127.0.0.1:1" || m.cfg.SecretKey[0] != '0' {
		t.Errorf("Membership kept the caller's slices: Seeds %v, key %q", m.cfg.Seeds, m.cfg.SecretKey)
	}
}

func TestEnsureDefaults(t *testing.T) {
	var c Config
	c.BindPort = 8000
	c.ensureDefaults()
	if c.BindAddr != "0.0.0.0" || c.Profile != ProfileLAN || c.AdvertisePort != 8000 || c.Logger == nil {
		t.Errorf("ensureDefaults() = BindAddr %q, Profile %q, AdvertisePort %d, Logger %v; want 0.0.0.0, lan, 8000, non-nil",
			c.BindAddr, c.Profile, c.AdvertisePort, c.Logger)
	}
}

func TestProfiles(t *testing.T) {
	tests := []struct {
		profile  string
		maxProbe int64 // ms
	}{
		{ProfileLAN, 1000},
		{ProfileLocal, 200},
	}
	for _, tc := range tests {
		c := validConfig()
		c.Profile = tc.profile
		mc := c.memberlistConfig()
		if mc.Name != "n1" || mc.BindPort != 7946 {
			t.Errorf("memberlistConfig(%s) Name, BindPort = %q, %d; want n1, 7946", tc.profile, mc.Name, mc.BindPort)
		}
		if got := mc.ProbeInterval.Milliseconds(); got != tc.maxProbe {
			t.Errorf("memberlistConfig(%s).ProbeInterval = %dms; want %dms", tc.profile, got, tc.maxProbe)
		}
		if mc.DeadNodeReclaimTime <= 0 {
			t.Errorf("memberlistConfig(%s).DeadNodeReclaimTime = %v; want > 0 so restarted members can move", tc.profile, mc.DeadNodeReclaimTime)
		}
	}
}
