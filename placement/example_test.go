package placement_test

import (
	"fmt"

	"cairn/placement"
)

func ExamplePlace() {
	layout := &placement.Layout{Version: 1, PGCount: placement.DefaultPGCount}
	for i, zone := range []string{"a", "a", "b", "b", "c", "c", "c"} {
		layout.Nodes = append(layout.Nodes, placement.Node{
			ID: placement.NodeID(fmt.Sprintf("n%d", i+1)), Zone: zone, Weight: 1, State: placement.Active,
		})
	}
	if err := layout.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	plan, err := placement.Place(layout, "photos", "2024/cat.jpg", 4+2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("pg:", plan.PG)
	fmt.Println("homes:", plan.Homes)
	fmt.Println("fallbacks:", plan.Fallbacks)
	// Output:
	// pg: 82
	// homes: [n2 n5 n3 n1 n7 n4]
	// fallbacks: [n6]
}

func ExampleMoved() {
	before := &placement.Layout{Version: 1, PGCount: 256}
	for _, id := range []placement.NodeID{"n1", "n2", "n3", "n4", "n5", "n6"} {
		before.Nodes = append(before.Nodes, placement.Node{ID: id, Weight: 1, State: placement.Active})
	}
	after := &placement.Layout{Version: 2, PGCount: 256, Nodes: append(before.Nodes,
		placement.Node{ID: "n7", Weight: 1, State: placement.Active})}
	fmt.Printf("adding n7 moves a shard of %d of %d PGs\n", placement.Moved(before, after, 6), after.PGCount)
	// Output:
	// adding n7 moves a shard of 215 of 256 PGs
}
