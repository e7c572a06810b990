package membership

import (
	"encoding/json"
	"errors"
	"fmt"
)

// metaVersion marks the metadata encoding. A reader accepts any version ≥ 1
// and ignores fields it does not know, so later versions may only add fields.
const metaVersion = 1

// meta is what a member gossips about itself. Keys are one letter because
// memberlist caps metadata at 512 bytes.
type meta struct {
	Version   int    `json:"v"`
	Role      Role   `json:"r"`
	Addr      string `json:"a"`
	Zone      string `json:"z,omitempty"`
	AdminAddr string `json:"m,omitempty"`
	// Leaving is set by Close just before the leave message. memberlist's
	// events do not say whether a member left or died (its Node.State is
	// never filled in), so receivers tell the two apart by this flag.
	Leaving bool `json:"l,omitempty"`
	// Epoch is the epoch of the shared document this member holds
	// (SetState), so that members can tell who is behind.
	Epoch uint64 `json:"e,omitempty"`
}

func encodeMeta(m meta) ([]byte, error) {
	return json.Marshal(m)
}

func decodeMeta(b []byte) (meta, error) {
	if len(b) == 0 {
		return meta{}, errors.New("no metadata")
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return meta{}, fmt.Errorf("decode metadata: %w", err)
	}
	if m.Version < 1 {
		return meta{}, fmt.Errorf("metadata version %d", m.Version)
	}
	return m, nil
}
