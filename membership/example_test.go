package membership_test

import (
	"context"
	"fmt"
	"time"

	"cairn/membership"
)

func ExampleNew() {
	newMember := func(id string, role membership.Role, addr string) *membership.Membership {
		cfg := membership.DefaultConfig()
		cfg.ID, cfg.Role, cfg.Addr = id, role, addr
		cfg.BindAddr, cfg.BindPort = "127.0.0.1", 0 // any free port
		cfg.Profile = membership.ProfileLocal
		m, err := membership.New(cfg)
		if err != nil {
			panic(err)
		}
		return m
	}
	n1 := newMember("n1", membership.RoleNode, "127.0.0.1:7070")
	defer n1.Close()
	gw := newMember("gw1", membership.RoleGateway, "127.0.0.1:9000")
	defer gw.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := gw.Join(ctx, []string{n1.LocalGossipAddr()}); err != nil {
		panic(err)
	}
	// Join merged n1's view synchronously, so gw1 knows n1 already.
	for _, mb := range gw.Members() {
		fmt.Println(mb.ID, mb.Role, mb.Addr, mb.State)
	}
	fmt.Println("n1 alive:", gw.Alive("n1"))
	// Output:
	// gw1 gateway 127.0.0.1:9000 alive
	// n1 node 127.0.0.1:7070 alive
	// n1 alive: true
}
