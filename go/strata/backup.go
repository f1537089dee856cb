package strata

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A backup stream is a tar archive (readable with `tar -t`) of a checkpoint of the database:
// its tables and its MANIFEST, then an index, backupIndexName, listing every file with its
// size and CRC-32C. Restore refuses a stream whose files do not match their index, one with
// any other entry, and one that ends early.

// backupIndexName is the last entry of a backup stream.
const backupIndexName = "STRATA-BACKUP"

// backupFormat is the version of the stream this package writes and reads.
const backupFormat = 1

// backupIndex is the content of the index entry.
type backupIndex struct {
	Format int          `json:"format"`
	Files  []backupFile `json:"files"`
}

type backupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Backup writes a consistent copy of the database to w, as a stream Restore turns back into a
// database: exactly the writes acknowledged before the call, while writes go on. It first
// takes a checkpoint (Checkpoint; hard links where the file system allows) into a temporary
// directory beside the database, streams its files in 1 MiB pieces (no copy of the data is
// held in memory), and removes the directory however Backup ends. ctx bounds the whole backup;
// an error from w ends it. A database opened ReadOnly cannot be backed up (ErrReadOnly), as it
// cannot take a checkpoint.
func (db *DB) Backup(ctx context.Context, w io.Writer) error {
	staging, err := stagingDir(db.dir, "backup")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	checkpoint := filepath.Join(staging, "checkpoint")
	if err := db.Checkpoint(ctx, checkpoint); err != nil {
		return err
	}
	if err := writeBackup(ctx, checkpoint, w); err != nil {
		return fmt.Errorf("strata: backup %s: %w", db.dir, err)
	}
	return nil
}

// stagingDir makes a new temporary directory beside dir (so a checkpoint's hard links stay on
// its file system), or in the system's temporary directory when dir's parent takes none.
func stagingDir(dir, what string) (string, error) {
	staging, err := os.MkdirTemp(filepath.Dir(dir), ".strata-"+what+"-*")
	if err != nil {
		staging, err = os.MkdirTemp("", "strata-"+what+"-*")
	}
	if err != nil {
		return "", fmt.Errorf("strata: %s %s: %w", what, dir, err)
	}
	return staging, nil
}

// writeBackup streams the files of the checkpoint in dir to w, then their index.
func writeBackup(ctx context.Context, dir string, w io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	index := backupIndex{Format: backupFormat}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		file, err := writeBackupFile(ctx, tw, f, e.Name())
		f.Close()
		if err != nil {
			return err
		}
		index.Files = append(index.Files, file)
	}
	data, err := json.Marshal(index)
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: backupIndexName, Mode: 0o644, Size: int64(len(data)), ModTime: time.Now(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	return tw.Close()
}

// writeBackupFile writes f as the entry name and returns its index record.
func writeBackupFile(ctx context.Context, tw *tar.Writer, f *os.File, name string) (backupFile, error) {
	info, err := f.Stat()
	if err != nil {
		return backupFile{}, err
	}
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: info.Size(), ModTime: info.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return backupFile{}, err
	}
	sum := crc32.New(castagnoli)
	n, err := io.CopyBuffer(io.MultiWriter(tw, sum), ctxReader{ctx, f}, make([]byte, 1<<20))
	if err == nil && n != info.Size() {
		err = fmt.Errorf("%s changed size while it was read (%d of %d bytes)", name, n, info.Size())
	}
	return backupFile{Name: name, Size: n, CRC32C: sum.Sum32()}, err
}

// ctxReader stops a copy once ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Restore builds a database in dir from a stream DB.Backup wrote. dir must not exist or be
// empty (ErrInvalidArgument otherwise; nothing is changed); a relative dir is taken from the
// working directory. The files are written to a temporary directory beside dir, checked
// against the stream's index (names, sizes, CRC-32C) and then with Check (every block's
// checksum), made durable, and only then moved into dir, so a failed Restore leaves dir as it
// was. A damaged or truncated stream fails with ErrCorruption; an error reading r is returned
// as it is (wrapped). ctx bounds the whole restore.
func Restore(ctx context.Context, dir string, r io.Reader) error {
	abs, err := absDir("restore", dir)
	if err != nil {
		return err
	}
	switch entries, err := os.ReadDir(abs); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("strata: restore %s: %w", abs, err)
	case len(entries) > 0:
		return fmt.Errorf("%w: restore %s: the directory is not empty", ErrInvalidArgument, abs)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return fmt.Errorf("strata: restore %s: %w", abs, err)
	}
	// Beside dir, not in the system's temporary directory: its files are linked into dir.
	staging, err := os.MkdirTemp(filepath.Dir(abs), ".strata-restore-*")
	if err != nil {
		return fmt.Errorf("strata: restore %s: %w", abs, err)
	}
	defer os.RemoveAll(staging)
	if err := readBackup(ctx, staging, r); err != nil {
		return fmt.Errorf("strata: restore %s: %w", abs, err)
	}
	if _, err := Check(staging); err != nil {
		return fmt.Errorf("strata: restore %s: the restored files fail the check: %w", abs, err)
	}
	return moveInto(staging, abs)
}

// corruptBackup is the error for a stream that is not what Backup writes.
func corruptBackup(format string, args ...any) error {
	return fmt.Errorf("%w: the backup stream is damaged: %s", ErrCorruption, fmt.Sprintf(format, args...))
}

// readBackup extracts the stream r into dir, checking every file against the index and
// syncing each file and dir.
func readBackup(ctx context.Context, dir string, r io.Reader) error {
	tr := tar.NewReader(r)
	var got []backupFile
	var index *backupIndex
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return readError(err)
		}
		if index != nil {
			return corruptBackup("an entry %q follows the index", hdr.Name)
		}
		if hdr.Name == backupIndexName {
			if hdr.Size > 64<<20 {
				return corruptBackup("the index is %d bytes", hdr.Size)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return readError(err)
			}
			index = &backupIndex{}
			if err := json.Unmarshal(data, index); err != nil {
				return corruptBackup("the index does not parse: %v", err)
			}
			continue
		}
		if err := checkBackupName(hdr); err != nil {
			return err
		}
		file, err := restoreFile(ctx, dir, hdr, tr)
		if err != nil {
			return err
		}
		got = append(got, file)
	}
	switch {
	case index == nil:
		return corruptBackup("it ends before its index (%d files read)", len(got))
	case index.Format != backupFormat:
		return fmt.Errorf("%w: the backup stream has format %d; this strata reads format %d", ErrInvalidArgument, index.Format, backupFormat)
	case !slices.Equal(got, index.Files):
		return corruptBackup("its files do not match its index (read %v, index %v)", got, index.Files)
	}
	return syncDir(dir)
}

// readError turns a failure to read the stream into the error Restore reports: a stream that
// ends inside an entry, or is not a tar archive, is damaged; any other error is r's own.
func readError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader) {
		return corruptBackup("%v", err)
	}
	return err
}

// checkBackupName accepts the entries Backup writes: regular files named MANIFEST or
// NNNNNN.sst, with no directory part.
func checkBackupName(hdr *tar.Header) error {
	name := hdr.Name
	ok := hdr.Typeflag == tar.TypeReg && !strings.ContainsAny(name, `/\`) &&
		(name == "MANIFEST" || (strings.HasSuffix(name, ".sst") && len(name) > len(".sst") &&
			strings.Trim(strings.TrimSuffix(name, ".sst"), "0123456789") == ""))
	if !ok {
		return corruptBackup("it holds an entry %q (type %c) that no backup holds", name, hdr.Typeflag)
	}
	return nil
}

// restoreFile writes the entry hdr from tr into dir and syncs it.
func restoreFile(ctx context.Context, dir string, hdr *tar.Header, tr io.Reader) (backupFile, error) {
	path := filepath.Join(dir, hdr.Name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return backupFile{}, corruptBackup("it holds %q twice", hdr.Name)
		}
		return backupFile{}, err
	}
	defer f.Close()
	var sum hash.Hash32 = crc32.New(castagnoli)
	n, err := io.CopyBuffer(io.MultiWriter(f, sum), ctxReader{ctx, tr}, make([]byte, 1<<20))
	if err != nil {
		return backupFile{}, readError(err)
	}
	if err := f.Sync(); err != nil {
		return backupFile{}, err
	}
	return backupFile{Name: hdr.Name, Size: n, CRC32C: sum.Sum32()}, f.Close()
}

// moveInto puts the files of staging into dir (creating it if needed) and syncs dir. Each is
// hard-linked in, which fails rather than replace a file of the same name that appeared in dir
// since Restore found it empty (a rename would overwrite it); if any link fails, the links
// already made are removed, so dir is left as it was. The staging copies go with staging.
func moveInto(staging, dir string) error {
	fail := func(err error) error { return fmt.Errorf("strata: restore %s: %w", dir, err) }
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fail(err)
	}
	entries, err := os.ReadDir(staging)
	if err != nil {
		return fail(err)
	}
	// The MANIFEST last: a directory of tables without one is not a database, so a restore
	// cut short here is never mistaken for one.
	slices.SortFunc(entries, func(a, b os.DirEntry) int {
		return boolCompare(a.Name() == "MANIFEST", b.Name() == "MANIFEST")
	})
	for i, e := range entries {
		if err := os.Link(filepath.Join(staging, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			for _, linked := range entries[:i] {
				os.Remove(filepath.Join(dir, linked.Name()))
			}
			if errors.Is(err, os.ErrExist) {
				err = fmt.Errorf("%w: %s appeared in the directory during the restore", ErrInvalidArgument, e.Name())
			}
			return fail(err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// syncDir makes dir's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
