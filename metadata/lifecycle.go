package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidLifecycle is returned by Lifecycle.Validate for a configuration
// S3 would refuse.
var ErrInvalidLifecycle = errors.New("metadata: invalid lifecycle configuration")

// Lifecycle is a bucket's lifecycle configuration: rules that expire
// objects, old versions, lone delete markers and forgotten multipart
// uploads. It is a field of the bucket record, so every node has it and
// each node's lifecycle scanner decides from its own copy.
type Lifecycle struct {
	Rules []LifecycleRule
}

// LifecycleRule is one rule. Zero action fields are unset.
type LifecycleRule struct {
	ID      string
	Enabled bool
	// Prefix and Tags filter the objects the rule applies to; every tag
	// must match. Rules with tags never apply to delete markers or
	// uploads, which have no tags (as in S3).
	Prefix string
	Tags   map[string]string

	// ExpireDays expires the current version that many days after it was
	// written (rounded up to the next midnight UTC, as S3 does);
	// ExpireDate expires every matching current version from that instant.
	ExpireDays int
	ExpireDate time.Time
	// ExpiredObjectDeleteMarker removes a delete marker that is the key's
	// only remaining record.
	ExpiredObjectDeleteMarker bool
	// NoncurrentDays deletes a version for good that many days after it
	// stopped being current, except the NewerNoncurrent newest
	// noncurrent versions, which are kept.
	NoncurrentDays  int
	NewerNoncurrent int
	// AbortDays aborts a multipart upload that many days after it started.
	AbortDays int
}

// Limits S3 puts on a configuration.
const (
	MaxLifecycleRules = 1000
	maxRuleIDLen      = 255
)

// Validate reports the first reason S3 would refuse l.
func (l *Lifecycle) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidLifecycle, fmt.Sprintf(format, args...))
	}
	if len(l.Rules) == 0 {
		return bad("no rules")
	}
	if len(l.Rules) > MaxLifecycleRules {
		return bad("%d rules, at most %d", len(l.Rules), MaxLifecycleRules)
	}
	ids := make(map[string]bool, len(l.Rules))
	for i := range l.Rules {
		r := &l.Rules[i]
		if len(r.ID) > maxRuleIDLen {
			return bad("rule ID longer than %d characters", maxRuleIDLen)
		}
		if r.ID != "" {
			if ids[r.ID] {
				return bad("rule ID %q used twice", r.ID)
			}
			ids[r.ID] = true
		}
		if r.ExpireDays < 0 || r.NoncurrentDays < 0 || r.NewerNoncurrent < 0 || r.AbortDays < 0 {
			return bad("rule %q: negative days", r.ID)
		}
		if r.ExpireDays > 0 && !r.ExpireDate.IsZero() {
			return bad("rule %q: Expiration has both Days and Date", r.ID)
		}
		if r.ExpiredObjectDeleteMarker && (r.ExpireDays > 0 || !r.ExpireDate.IsZero()) {
			return bad("rule %q: ExpiredObjectDeleteMarker cannot be combined with Days or Date", r.ID)
		}
		if r.ExpiredObjectDeleteMarker && len(r.Tags) > 0 {
			return bad("rule %q: ExpiredObjectDeleteMarker cannot be used with a tag filter", r.ID)
		}
		if r.NewerNoncurrent > 0 && r.NoncurrentDays == 0 {
			return bad("rule %q: NewerNoncurrentVersions needs NoncurrentDays", r.ID)
		}
		if r.AbortDays > 0 && len(r.Tags) > 0 {
			return bad("rule %q: AbortIncompleteMultipartUpload cannot be used with a tag filter", r.ID)
		}
		if r.ExpireDays == 0 && r.ExpireDate.IsZero() && !r.ExpiredObjectDeleteMarker && r.NoncurrentDays == 0 && r.AbortDays == 0 {
			return bad("rule %q has no action", r.ID)
		}
	}
	return nil
}

// LifecycleDue returns when something that started at t is due after days
// days: t plus the days, rounded up to the next midnight UTC, which is how
// S3 counts lifecycle days.
func LifecycleDue(t time.Time, days int) time.Time {
	d := t.UTC().Add(time.Duration(days) * 24 * time.Hour)
	midnight := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	if midnight.Before(d) {
		midnight = midnight.AddDate(0, 0, 1)
	}
	return midnight
}

func (r *LifecycleRule) matches(key string, tags map[string]string) bool {
	if !r.Enabled || !strings.HasPrefix(key, r.Prefix) {
		return false
	}
	for k, v := range r.Tags {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ExpireCurrent reports which rule, if any, expires v as its key's current
// version at now. v must be live: delete markers and tombstones are never
// expired this way.
func (l *Lifecycle) ExpireCurrent(v *Version, now time.Time) (ruleID string, ok bool) {
	if l == nil || v.Deleted || v.IsPurged() {
		return "", false
	}
	for i := range l.Rules {
		r := &l.Rules[i]
		if !r.matches(v.Key, v.Tags) {
			continue
		}
		if r.ExpireDays > 0 && !now.Before(LifecycleDue(v.ModTime, r.ExpireDays)) {
			return r.ID, true
		}
		if !r.ExpireDate.IsZero() && !now.Before(r.ExpireDate) {
			return r.ID, true
		}
	}
	return "", false
}

// ExpireNoncurrent reports which rule, if any, deletes for good the
// noncurrent version v of its key at now. since is when v stopped being
// current (when its successor was written); newer is how many noncurrent
// versions of the key are newer than v.
func (l *Lifecycle) ExpireNoncurrent(v *Version, since time.Time, newer int, now time.Time) (ruleID string, ok bool) {
	if l == nil || v.IsPurged() {
		return "", false
	}
	tags := v.Tags
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.NoncurrentDays == 0 || !r.matches(v.Key, tags) || (v.Deleted && len(r.Tags) > 0) {
			continue
		}
		if newer >= r.NewerNoncurrent && !now.Before(LifecycleDue(since, r.NoncurrentDays)) {
			return r.ID, true
		}
	}
	return "", false
}

// ExpireDeleteMarker reports which rule, if any, removes the delete marker
// of key when it is the key's only remaining record.
func (l *Lifecycle) ExpireDeleteMarker(key string) (ruleID string, ok bool) {
	if l == nil {
		return "", false
	}
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.ExpiredObjectDeleteMarker && len(r.Tags) == 0 && r.matches(key, nil) {
			return r.ID, true
		}
	}
	return "", false
}

// AbortUpload reports which rule, if any, aborts an upload of key started
// at initiated, at now.
func (l *Lifecycle) AbortUpload(key string, initiated, now time.Time) (ruleID string, ok bool) {
	if l == nil {
		return "", false
	}
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.AbortDays > 0 && len(r.Tags) == 0 && r.matches(key, nil) && !now.Before(LifecycleDue(initiated, r.AbortDays)) {
			return r.ID, true
		}
	}
	return "", false
}

// Lifecycle field encoding (Bucket extension tag 2):
//
//	format(1) count:uvarint rules, each
//	ID flags(1=Enabled 2=ExpiredObjectDeleteMarker) Prefix Tags:map
//	ExpireDays:varint ExpireDate:time NoncurrentDays:varint
//	NewerNoncurrent:varint AbortDays:varint
//
// The field has a format byte of its own, so a rule can grow fields later
// without a new bucket format.
const (
	lifecycleFormatV1 = 1

	ruleEnabled = 1 << 0
	ruleEODM    = 1 << 1

	// minRuleSize: ID, flags, prefix, tags, five numbers and a time.
	minRuleSize = 10
)

func appendLifecycle(b []byte, l *Lifecycle) ([]byte, error) {
	b = append(b, lifecycleFormatV1)
	b = binary.AppendUvarint(b, uint64(len(l.Rules)))
	for i := range l.Rules {
		r := &l.Rules[i]
		if err := checkTime(r.ExpireDate); err != nil {
			return b, fmt.Errorf("lifecycle rule %q: %w", r.ID, err)
		}
		b = appendString(b, r.ID)
		b = append(b, boolFlag(r.Enabled, ruleEnabled)|boolFlag(r.ExpiredObjectDeleteMarker, ruleEODM))
		b = appendString(b, r.Prefix)
		b = appendMap(b, r.Tags)
		b = binary.AppendVarint(b, int64(r.ExpireDays))
		b = appendTime(b, r.ExpireDate)
		b = binary.AppendVarint(b, int64(r.NoncurrentDays))
		b = binary.AppendVarint(b, int64(r.NewerNoncurrent))
		b = binary.AppendVarint(b, int64(r.AbortDays))
	}
	return b, nil
}

func (d *decoder) lifecycle() *Lifecycle {
	if f := d.byte(); f != lifecycleFormatV1 {
		d.fail("unknown lifecycle format %d", f)
		return nil
	}
	l := &Lifecycle{Rules: make([]LifecycleRule, d.count(minRuleSize))}
	for i := range l.Rules {
		r := &l.Rules[i]
		r.ID = d.string()
		flags := d.flags(ruleEnabled | ruleEODM)
		r.Enabled, r.ExpiredObjectDeleteMarker = flags&ruleEnabled != 0, flags&ruleEODM != 0
		r.Prefix = d.string()
		r.Tags = d.strMap()
		r.ExpireDays = d.int()
		r.ExpireDate = d.time()
		r.NoncurrentDays = d.int()
		r.NewerNoncurrent = d.int()
		r.AbortDays = d.int()
	}
	return l
}
