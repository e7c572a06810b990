package node

import (
	"testing"
	"testing/synctest"
	"time"
)

// The move rate is over the time moves were under way: moves that overlap
// (a node hands over several keys at once) count their shared time once,
// and time with no move under way counts for nothing.
func TestMoveRateCountsOverlapOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		n := &Node{}
		h := &n.handover
		const size = 4 << 20
		h.moveStarted() // A
		time.Sleep(time.Second)
		h.moveStarted() // B
		time.Sleep(time.Second)
		h.moveEnded(true, size) // A: 2 s
		time.Sleep(time.Second)
		h.moveEnded(true, size) // B: 2 s, 3 s after A began
		st := n.RebalanceStats()
		if st.Moved != 2 || st.MovedBytes != 2*size {
			t.Errorf("moved %d shards, %d bytes; want 2, %d", st.Moved, st.MovedBytes, 2*size)
		}
		if want := float64(2*size) / 3; st.MoveRate != want {
			t.Errorf("MoveRate = %.0f B/s; want %.0f (8 MiB over 3 s, not over the moves' 4)", st.MoveRate, want)
		}
		time.Sleep(time.Hour) // idle
		h.moveStarted()
		time.Sleep(time.Second)
		if got, want := n.RebalanceStats().MoveRate, float64(2*size)/4; got != want {
			t.Errorf("MoveRate with a move under way = %.0f B/s; want %.0f (8 MiB over 4 s)", got, want)
		}
		h.moveEnded(false, size) // failed: its time counts, not its bytes
		if st := n.RebalanceStats(); st.Moved != 2 || st.MoveRate != float64(2*size)/4 {
			t.Errorf("after a failed move: %d moved at %.0f B/s; want 2 at %.0f", st.Moved, st.MoveRate, float64(2*size)/4)
		}
	})
}
