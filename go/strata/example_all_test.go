package strata_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/strata-db/strata/go/strata"
)

func ExampleDB_All() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, &strata.Options{NoSync: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, k := range []string{"apple", "banana", "cherry", "date"} {
		if err := db.Put(ctx, []byte(k), []byte(k[:1])); err != nil {
			log.Fatal(err)
		}
	}

	// The keys in [b, d). IterOptions.Err receives the error that ends a loop early, if any.
	var iterErr error
	for k, v := range db.All(ctx, &strata.IterOptions{Start: []byte("b"), End: []byte("d"), Err: &iterErr}) {
		fmt.Printf("%s=%s\n", k, v)
	}
	if iterErr != nil {
		log.Fatal(iterErr)
	}

	// k and v are valid only until the loop's next step: copy what you keep (string(k)
	// copies). Leaving the loop early closes its iterator.
	var firstTwo []string
	for k := range db.All(ctx, &strata.IterOptions{Reverse: true}) {
		firstTwo = append(firstTwo, string(k))
		if len(firstTwo) == 2 {
			break
		}
	}
	fmt.Println(firstTwo)

	// A loop that cannot start (here: its context is already cancelled) runs no step and
	// reports why.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for range db.All(cancelled, &strata.IterOptions{Err: &iterErr}) {
		fmt.Println("unreachable")
	}
	fmt.Println("cancelled:", errors.Is(iterErr, context.Canceled))
	// Output:
	// banana=b
	// cherry=c
	// [date cherry]
	// cancelled: true
}

// Prefix iteration, as a table or tenant scan would do it: the keys that begin with "user/".
func ExampleIterOptions_prefix() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, &strata.Options{NoSync: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, k := range []string{"order/7", "user/ada", "user/bob", "userx"} {
		if err := db.Put(ctx, []byte(k), nil); err != nil {
			log.Fatal(err)
		}
	}
	for k := range db.All(ctx, &strata.IterOptions{Prefix: []byte("user/")}) {
		fmt.Println(string(k))
	}
	// Output:
	// user/ada
	// user/bob
}
