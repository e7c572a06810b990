package metadata_test

import (
	"fmt"
	"time"

	"cairn/metadata"
)

func ExampleClock() {
	// The gateway passes time.Now; a fixed clock keeps the example stable.
	wall := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c := metadata.NewClock(func() time.Time { return wall }, time.Second)

	a, b := c.Now(), c.Now() // same millisecond: the counter breaks the tie
	fmt.Println(a.Millis() == b.Millis(), a.Logical(), b.Logical())

	// A peer's timestamp an hour ahead is refused.
	err := c.Update(metadata.NewHLC(wall.Add(time.Hour).UnixMilli(), 0))
	fmt.Println(err != nil)
	// Output:
	// true 0 1
	// true
}

func ExampleNewVersionID() {
	older := metadata.NewVersionID(metadata.NewHLC(1_700_000_000_000, 0), "gw1")
	newer := metadata.NewVersionID(metadata.NewHLC(1_700_000_000_001, 0), "gw1")
	fmt.Println(newer < older) // S3 lists newest first

	h, _ := metadata.ParseVersionID(newer)
	fmt.Println(h.Time().Format(time.RFC3339Nano))
	// Output:
	// true
	// 2023-11-14T22:13:20.001Z
}

func ExampleVersion_MarshalBinary() {
	v := metadata.Version{Bucket: "photos", Key: "cat.jpg", HLC: 42, Size: 3, Inline: []byte("abc")}
	rec, _ := v.MarshalBinary()

	var got metadata.Version
	if err := got.UnmarshalBinary(rec); err != nil {
		fmt.Println(err)
		return
	}
	e, _ := metadata.DecodeListEntry(rec) // listing reads only what it needs
	fmt.Println(got.Key, string(got.Inline), e.Key, e.Size)
	// Output: cat.jpg abc cat.jpg 3
}
