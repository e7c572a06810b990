package metadata

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestBucketLifecycleRoundTrip(t *testing.T) {
	in := Bucket{Name: "b", HLC: NewHLC(1_700_000_000_000, 1), Created: time.Unix(1_700_000_000, 0).UTC(),
		Versioning: VersioningEnabled, Lifecycle: &Lifecycle{Rules: []LifecycleRule{
			{ID: "a", Enabled: true, Prefix: "logs/", Tags: map[string]string{"t": "1"}, ExpireDays: 3},
			{ID: "b", ExpireDate: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), NoncurrentDays: 2, NewerNoncurrent: 1, AbortDays: 7},
			{ID: "c", Enabled: true, ExpiredObjectDeleteMarker: true},
		}}}
	rec, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out Bucket
	if err := out.UnmarshalBinary(rec); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("UnmarshalBinary(MarshalBinary(%+v)) = %+v", in, out)
	}
	// The lifecycle field comes last: cut anywhere inside it, the record
	// is corrupt.
	bare := in
	bare.Lifecycle = nil
	base, err := bare.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for i := len(base) + 1; i < len(rec); i++ {
		if err := new(Bucket).UnmarshalBinary(rec[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("UnmarshalBinary(first %d bytes) = %v; want ErrCorrupt", i, err)
		}
	}
}

func TestLifecycleDue(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		days int
		want time.Time
	}{
		{time.Date(2024, 5, 1, 13, 0, 0, 0, time.UTC), 1, time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)},
		{time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), 1, time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)},
		{time.Date(2024, 12, 31, 23, 59, 0, 0, time.UTC), 30, time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)},
	} {
		if got := LifecycleDue(tc.t, tc.days); !got.Equal(tc.want) {
			t.Errorf("LifecycleDue(%v, %d) = %v; want %v", tc.t, tc.days, got, tc.want)
		}
	}
}

func TestLifecycleDecisions(t *testing.T) {
	l := &Lifecycle{Rules: []LifecycleRule{
		{ID: "logs", Enabled: true, Prefix: "logs/", ExpireDays: 1},
		{ID: "off", Prefix: "off/", ExpireDays: 1},
		{ID: "tagged", Enabled: true, Tags: map[string]string{"tmp": "yes"}, ExpireDays: 1},
		{ID: "old", Enabled: true, NoncurrentDays: 2, NewerNoncurrent: 1},
	}}
	written := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	soon, late := written.Add(time.Hour), written.Add(72*time.Hour)
	for _, tc := range []struct {
		v    Version
		now  time.Time
		want string
	}{
		{Version{Key: "logs/a", ModTime: written}, soon, ""},
		{Version{Key: "logs/a", ModTime: written}, late, "logs"},
		{Version{Key: "logs/a", ModTime: written, Deleted: true}, late, ""},
		{Version{Key: "off/a", ModTime: written}, late, ""},
		{Version{Key: "x", ModTime: written, Tags: map[string]string{"tmp": "yes"}}, late, "tagged"},
		{Version{Key: "x", ModTime: written, Tags: map[string]string{"tmp": "no"}}, late, ""},
	} {
		if got, _ := l.ExpireCurrent(&tc.v, tc.now); got != tc.want {
			t.Errorf("ExpireCurrent(%s, %v) = %q; want %q", tc.v.Key, tc.now, got, tc.want)
		}
	}
	v := &Version{Key: "k"}
	for _, tc := range []struct {
		newer int
		now   time.Time
		want  bool
	}{{0, late, false}, {1, late, true}, {1, soon, false}} {
		if _, got := l.ExpireNoncurrent(v, written, tc.newer, tc.now); got != tc.want {
			t.Errorf("ExpireNoncurrent(newer %d, %v) = %v; want %v", tc.newer, tc.now, got, tc.want)
		}
	}
	if err := (&Lifecycle{Rules: []LifecycleRule{{ID: "x", Enabled: true}}}).Validate(); !errors.Is(err, ErrInvalidLifecycle) {
		t.Errorf("Validate(rule without action) = %v; want ErrInvalidLifecycle", err)
	}
	if err := l.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v; want nil", l, err)
	}
}
