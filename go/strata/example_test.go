package strata_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/strata-db/strata/go/strata"
)

func Example() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)

	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	if err := db.Put(ctx, []byte("greeting"), []byte("hello")); err != nil {
		log.Fatal(err)
	}
	v, err := db.Get(ctx, []byte("greeting"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(v))

	_, err = db.Get(ctx, []byte("missing"))
	fmt.Println(errors.Is(err, strata.ErrNotFound))
	// Output:
	// hello
	// true
}

func ExampleDB_Write() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	// A transfer between two accounts: both updates land together or not at all.
	b := strata.NewBatch()
	b.Put([]byte("account/alice"), []byte("70"))
	b.Put([]byte("account/bob"), []byte("30"))
	if err := db.Write(ctx, b); err != nil {
		log.Fatal(err)
	}
	bob, _ := db.Get(ctx, []byte("account/bob"))
	fmt.Println(string(bob))
	// Output: 30
}

func ExampleDB_NewIterator() {
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

	it, err := db.NewIterator(ctx, &strata.IterOptions{Start: []byte("b"), End: []byte("d"), Reverse: true})
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%s=%s\n", it.Key(), it.Value())
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// cherry=c
	// banana=b
}

func ExampleDB_NewSnapshot() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	if err := db.Put(ctx, []byte("config/version"), []byte("1")); err != nil {
		log.Fatal(err)
	}
	// A snapshot reads the database as it was when it was taken, however it changes later.
	snap, err := db.NewSnapshot()
	if err != nil {
		log.Fatal(err)
	}
	defer snap.Close()
	if err := db.Put(ctx, []byte("config/version"), []byte("2")); err != nil {
		log.Fatal(err)
	}
	if err := db.Put(ctx, []byte("config/extra"), []byte("x")); err != nil {
		log.Fatal(err)
	}

	then, _ := snap.Get(ctx, []byte("config/version"))
	now, _ := db.Get(ctx, []byte("config/version"))
	fmt.Printf("snapshot: version %s, latest: version %s\n", then, now)

	it, err := snap.NewIterator(ctx, &strata.IterOptions{Start: []byte("config/")})
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%s=%s\n", it.Key(), it.Value())
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// snapshot: version 1, latest: version 2
	// config/version=1
}
