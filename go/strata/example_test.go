package strata_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"

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

// Reads into one buffer, reused from read to read: no allocation per read.
func ExampleDB_GetAppend() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)

	db, err := strata.Open(dir, &strata.Options{NoSync: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	ctx := context.Background()
	for _, name := range []string{"ada", "grace", "edsger"} {
		if err := db.Put(ctx, []byte("user/"+name), []byte(name+"@example.com")); err != nil {
			log.Fatal(err)
		}
	}
	buf := make([]byte, 0, 64)
	for _, name := range []string{"ada", "grace", "alan"} {
		buf, err = db.GetAppend(ctx, buf[:0], []byte("user/"+name))
		switch {
		case errors.Is(err, strata.ErrNotFound):
			fmt.Printf("%s: none\n", name)
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Printf("%s: %s\n", name, buf)
		}
	}
	// Output:
	// ada: ada@example.com
	// grace: grace@example.com
	// alan: none
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

func ExampleBatch() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	// Batch.Put and Batch.Delete copy their arguments: the slices may be reused at once.
	b := strata.NewBatch()
	b.Put([]byte("user/1"), []byte("ada"))
	b.Put([]byte("user/2"), []byte("alan"))
	if err := db.Write(ctx, b); err != nil {
		log.Fatal(err)
	}

	// Reset starts a new batch in the same memory. A rename is a delete and a put that land
	// together.
	b.Reset()
	b.Delete([]byte("user/2"))
	b.Put([]byte("user/3"), []byte("alan"))
	fmt.Println("operations:", b.Len())
	if err := db.Write(ctx, b); err != nil {
		log.Fatal(err)
	}

	// A batch remembers its first invalid operation; Write reports it and writes nothing.
	b.Reset()
	b.Put([]byte("user/4"), []byte("grace"))
	b.Put(nil, []byte("a value without a key"))
	err = db.Write(ctx, b)
	fmt.Println("invalid:", errors.Is(err, strata.ErrInvalidArgument))
	_, err = db.Get(ctx, []byte("user/4"))
	fmt.Println("user/4 written:", !errors.Is(err, strata.ErrNotFound))

	it, err := db.NewIterator(ctx, nil)
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
	// operations: 2
	// invalid: true
	// user/4 written: false
	// user/1=ada
	// user/3=alan
}

// Every error strata returns wraps one of its sentinels (ErrNotFound, ErrInvalidArgument,
// ErrLocked, ErrClosed, ...), so callers test it with errors.Is; the message adds context
// such as the key, the limit or the file. A context that ends first yields ctx.Err() itself.
func Example_errors() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	if _, err := db.Get(ctx, []byte("absent")); errors.Is(err, strata.ErrNotFound) {
		fmt.Println("absent: not found")
	}

	err = db.Put(ctx, []byte{}, []byte("v"))
	fmt.Println(errors.Is(err, strata.ErrInvalidArgument), err)

	// One handle per directory: a second Open fails until the first handle is closed.
	_, err = strata.Open(dir, nil)
	fmt.Println("second open locked:", errors.Is(err, strata.ErrLocked))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = db.Get(cancelled, []byte("absent"))
	fmt.Println("cancelled:", errors.Is(err, context.Canceled))

	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	err = db.Put(ctx, []byte("k"), []byte("v"))
	fmt.Println("after close:", errors.Is(err, strata.ErrClosed))
	// Output:
	// absent: not found
	// true strata: invalid argument: key is empty
	// second open locked: true
	// cancelled: true
	// after close: true
}

// A read-modify-write in a transaction: Update reruns the function if another commit changed
// a key it read in the meantime, so the increment is never lost.
func ExampleDB_Update() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	increment := func(tx *strata.Tx) error {
		n := 0
		v, err := tx.Get(ctx, []byte("visits"))
		switch {
		case err == nil:
			n, _ = strconv.Atoi(string(v))
		case !errors.Is(err, strata.ErrNotFound):
			return err
		}
		return tx.Put([]byte("visits"), []byte(strconv.Itoa(n+1)))
	}
	for range 3 {
		if err := db.Update(ctx, increment); err != nil {
			log.Fatal(err)
		}
	}
	err = db.View(ctx, func(tx *strata.Tx) error {
		v, err := tx.Get(ctx, []byte("visits"))
		fmt.Println(string(v))
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output: 3
}

// A transaction's loop sees its own writes over its snapshot: the key it put appears, the key
// it deleted does not, though neither is written before Commit.
func ExampleTx_All() {
	dir, _ := os.MkdirTemp("", "strata-example")
	defer os.RemoveAll(dir)
	db, err := strata.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, k := range []string{"user/ann", "user/bob"} {
		if err := db.Put(ctx, []byte(k), []byte("old")); err != nil {
			log.Fatal(err)
		}
	}
	err = db.Update(ctx, func(tx *strata.Tx) error {
		if err := tx.Delete([]byte("user/ann")); err != nil {
			return err
		}
		if err := tx.Put([]byte("user/cy"), []byte("new")); err != nil {
			return err
		}
		var loopErr error
		for k, v := range tx.All(ctx, &strata.IterOptions{Prefix: []byte("user/"), Err: &loopErr}) {
			fmt.Printf("%s=%s\n", k, v)
		}
		return loopErr
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// user/bob=old
	// user/cy=new
}
