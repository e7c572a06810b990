package quorum_test

import (
	"errors"
	"fmt"

	"cairn/quorum"
)

func ExampleDefaultParams() {
	p := quorum.DefaultParams(4, 2)
	fmt.Printf("N=%d shards=%d metaW=%d metaR=%d valid=%v\n", p.N(), p.ShardWrite, p.MetaWrite, p.MetaRead, p.Validate() == nil)
	fmt.Println(quorum.DefaultParams(2, 2).Validate())
	// Output:
	// N=6 shards=5 metaW=4 metaR=3 valid=true
	// quorum: invalid params: MetaRead = 3 exceeds N-M = 2: 2 down homes would block it
}

func ExampleNewTally() {
	errTimeout := errors.New("timeout")
	// Answers as the fan-out goroutines would deliver them.
	answers := []quorum.Result{{Node: "n1"}, {Node: "n2", Err: errTimeout}, {Node: "n3", Err: errTimeout}, {Node: "n4"}}
	t := quorum.NewTally("put photos/cat.jpg", 3, 4)
	for _, r := range answers {
		if t.Done() {
			break
		}
		t.Add(r)
	}
	err := t.Err()
	fmt.Println(err)
	fmt.Println(errors.Is(err, errTimeout))
	// Output:
	// quorum: put photos/cat.jpg: 1/4 acks, need 3, 1 unanswered: n2: timeout; n3: timeout
	// true
}

func ExampleNewReadTally() {
	p := quorum.DefaultParams(4, 2)
	t := quorum.NewReadTally("get photos/cat.jpg", p.MetaRead, p.N())
	t.AddNotFound()
	t.AddError("n2", errors.New("connection refused"))
	t.AddNotFound()
	fmt.Println(t.Outcome())
	t.AddNotFound()
	fmt.Println(t.Outcome())
	// Output:
	// pending quorum: get photos/cat.jpg: 2/6 acks, need 3, 3 unanswered: n2: connection refused
	// not found <nil>
}
