package benchmarks

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Op is one kind of S3 request.
type Op int

// Operations. Zero is unset.
const (
	OpPut    Op         = 1 + iota // PutObject
	OpGet                          // GetObject, body read to the end and verified
	OpHead                         // HeadObject, size verified
	OpList                         // one ListObjectsV2 page
	OpDelete                       // DeleteObject
	numOps   = 1 + iota            // one past the last Op
)

// opNames[0] names the zero Op, which stands for all operations in totals.
var opNames = [...]string{"ALL", "PUT", "GET", "HEAD", "LIST", "DELETE"}

func (o Op) String() string {
	if o >= 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText makes ops read as names in JSON.
func (o Op) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Kind is a scenario's workload.
type Kind string

// Scenario kinds.
const (
	KindPut   Kind = "put"   // PUT new objects
	KindGet   Kind = "get"   // GET objects written beforehand
	KindMixed Kind = "mixed" // a weighted mix of all operations over objects written beforehand
	KindList  Kind = "list"  // page through the listing of objects written beforehand
)

// Mix gives each operation's weight in a mixed scenario; weights are
// relative and need not add up to 100.
type Mix map[Op]int

// DefaultMix is 45% GET, 30% PUT, 15% HEAD and LIST, 10% DELETE.
func DefaultMix() Mix { return Mix{OpGet: 45, OpPut: 30, OpHead: 10, OpList: 5, OpDelete: 10} }

// ParseMix parses "get=45,put=30,head=10,list=5,delete=10". Missing
// operations get weight 0.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	total := 0
	for _, item := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(item), "=")
		op := opByName(name)
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if !ok || op == 0 || err != nil || n < 0 {
			return nil, fmt.Errorf("%w: mix item %q: want op=weight, op one of get, put, head, list, delete", ErrSyntax, item)
		}
		m[op] = n
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("%w: mix %q: all weights are zero", ErrSyntax, s)
	}
	return m, nil
}

func opByName(s string) Op {
	for i, n := range opNames {
		if i > 0 && strings.EqualFold(n, strings.TrimSpace(s)) {
			return Op(i)
		}
	}
	return 0
}

// String formats the mix as ParseMix reads it, in a fixed order.
func (m Mix) String() string {
	var parts []string
	for _, op := range []Op{OpGet, OpPut, OpHead, OpList, OpDelete} {
		if m[op] > 0 {
			parts = append(parts, strings.ToLower(op.String())+"="+strconv.Itoa(m[op]))
		}
	}
	return strings.Join(parts, ",")
}

// Scenario is one measured workload.
type Scenario struct {
	Name        string        `json:"name"`
	Kind        Kind          `json:"kind"`
	Size        int64         `json:"size"`
	Concurrency int           `json:"concurrency"`
	Duration    time.Duration `json:"duration_ns"` // 0: bounded by Ops only
	Ops         int64         `json:"ops"`         // 0: bounded by Duration only
	// Objects is how many objects get, mixed and list scenarios write
	// before the measured phase; 0 picks a default.
	Objects  int          `json:"objects"`
	Mix      Mix          `json:"-"`
	ListPage int          `json:"list_page"` // keys per LIST page; default 1000
	Faults   []FaultEvent `json:"faults,omitempty"`
}

// Limits on scenario knobs.
const (
	MinObjectSize = 0
	MaxObjectSize = 5 << 30 // S3's single-PUT limit; multipart is not implemented
)

// withDefaults fills unset knobs.
func (s Scenario) withDefaults() Scenario {
	if s.Concurrency == 0 {
		s.Concurrency = 1
	}
	if s.ListPage == 0 {
		s.ListPage = 1000
	}
	if s.Kind == KindMixed && s.Mix == nil {
		s.Mix = DefaultMix()
	}
	if s.Objects == 0 {
		switch s.Kind {
		case KindGet, KindMixed:
			// Enough distinct keys that reads spread over placement groups,
			// capped at 1 GiB so that writing them takes little of the budget.
			s.Objects = max(1, min(16*s.Concurrency, int((1<<30)/max(s.Size, 1))))
		case KindList:
			s.Objects = 2 * s.ListPage
		}
	}
	if s.Name == "" {
		s.Name = fmt.Sprintf("%s-%s-c%d", s.Kind, strings.ReplaceAll(FormatSize(s.Size), " ", ""), s.Concurrency)
	}
	return s
}

// Validate reports every problem with the scenario at once.
func (s Scenario) Validate() error {
	var errs []error
	switch s.Kind {
	case KindPut, KindGet, KindMixed, KindList:
	default:
		errs = append(errs, fmt.Errorf("kind %q: want put, get, mixed or list", s.Kind))
	}
	if s.Size < MinObjectSize || s.Size > MaxObjectSize {
		errs = append(errs, fmt.Errorf("size %d: want 0..%s", s.Size, FormatSize(MaxObjectSize)))
	}
	if s.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d: want ≥ 1", s.Concurrency))
	}
	if s.Duration <= 0 && s.Ops <= 0 {
		errs = append(errs, errors.New("need a duration or an op count"))
	}
	if s.Duration < 0 || s.Ops < 0 || s.Objects < 0 || s.ListPage < 0 {
		errs = append(errs, errors.New("negative duration, ops, objects or list page"))
	}
	if s.Kind == KindMixed {
		total := 0
		for _, w := range s.Mix {
			total += w
		}
		if total <= 0 {
			errs = append(errs, errors.New("mix has no positive weight"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("benchmarks: scenario %q: %w", s.Name, err)
	}
	return nil
}

// StandardSuite is the scenario set `make bench` runs against a local
// cluster: each scenario runs for d, the fault scenario for d+15s with two
// nodes killed at 10s and 12s and both restarted at 25s.
func StandardSuite(d time.Duration) []Scenario {
	const (
		k = 1 << 10
		m = 1 << 20
	)
	kill := []FaultEvent{
		{At: 10 * time.Second, Action: FaultKill, Node: 3},
		{At: 12 * time.Second, Action: FaultKill, Node: 5},
		{At: 25 * time.Second, Action: FaultRestart, Node: 3},
		{At: 25 * time.Second, Action: FaultRestart, Node: 5},
	}
	return []Scenario{
		{Name: "put-4KiB", Kind: KindPut, Size: 4 * k, Concurrency: 16, Duration: d},
		{Name: "put-1MiB", Kind: KindPut, Size: m, Concurrency: 16, Duration: d},
		{Name: "put-16MiB", Kind: KindPut, Size: 16 * m, Concurrency: 8, Duration: d},
		{Name: "get-1MiB", Kind: KindGet, Size: m, Concurrency: 16, Duration: d, Objects: 256},
		{Name: "get-4KiB", Kind: KindGet, Size: 4 * k, Concurrency: 16, Duration: d, Objects: 512},
		{Name: "mixed-64KiB", Kind: KindMixed, Size: 64 * k, Concurrency: 16, Duration: d, Objects: 512},
		{Name: "put-1MiB-kill-n3-n5", Kind: KindPut, Size: m, Concurrency: 16, Duration: max(d, 20*time.Second) + 15*time.Second, Faults: kill},
	}
}

// DataPathSuite is the healthy-cluster subset of StandardSuite that
// data-path work is judged by: large and small PUTs and GETs, no faults,
// so that two runs an edit apart can be compared scenario by scenario.
func DataPathSuite(d time.Duration) []Scenario {
	const (
		k = 1 << 10
		m = 1 << 20
	)
	return []Scenario{
		{Name: "put-1MiB", Kind: KindPut, Size: m, Concurrency: 16, Duration: d},
		{Name: "put-16MiB", Kind: KindPut, Size: 16 * m, Concurrency: 8, Duration: d},
		{Name: "get-1MiB", Kind: KindGet, Size: m, Concurrency: 16, Duration: d, Objects: 256},
		{Name: "put-4KiB", Kind: KindPut, Size: 4 * k, Concurrency: 16, Duration: d},
		{Name: "get-4KiB", Kind: KindGet, Size: 4 * k, Concurrency: 16, Duration: d, Objects: 512},
	}
}

// SmokeSuite runs every scenario kind briefly with small objects: a check
// that the tool and the server work, not a measurement.
func SmokeSuite(d time.Duration) []Scenario {
	return []Scenario{
		{Name: "smoke-put", Kind: KindPut, Size: 4 << 10, Concurrency: 4, Duration: d},
		{Name: "smoke-get", Kind: KindGet, Size: 4 << 10, Concurrency: 4, Duration: d, Objects: 32},
		{Name: "smoke-mixed", Kind: KindMixed, Size: 16 << 10, Concurrency: 4, Duration: d, Objects: 32},
		{Name: "smoke-list", Kind: KindList, Size: 1 << 10, Concurrency: 2, Duration: d, Objects: 64, ListPage: 25},
	}
}

// UnmarshalText reads what MarshalText writes.
func (o *Op) UnmarshalText(b []byte) error {
	if *o = opByName(string(b)); *o == 0 && string(b) != opNames[0] {
		return fmt.Errorf("%w: op %q", ErrSyntax, b)
	}
	return nil
}
