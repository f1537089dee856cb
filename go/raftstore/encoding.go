package raftstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/raft"
	"github.com/strata-db/strata/go/strata"
)

// A log entry is stored as the value of its log key, encoded as
//
//	version     1 byte, logFormatV1
//	index       uvarint (repeats the key, so a value read under the wrong key is caught)
//	term        uvarint
//	type        1 byte, raft.LogType
//	data        uvarint length, then the bytes
//	extensions  uvarint length, then the bytes
//	appended_at varint Unix seconds, then uvarint nanoseconds within the second
//
// Nothing may follow. The zero time.Time round-trips (as seconds -62135596800, nanoseconds
// 0). A later format gets a new version byte; decodeLog refuses versions it does not know, so
// an old binary never misreads a newer store.
//
// An entry whose encoding is longer than one value may be (limits.value, strata.MaxValueSize)
// is stored in parts. The value under its log key is then a head,
//
//	version     1 byte, logFormatHead
//	index       uvarint (as above)
//	length      uvarint, the length of the entry's version 1 encoding
//	parts       uvarint, the number of continuation values, at least 1
//	first part  the rest of the value: the first bytes of the version 1 encoding
//
// and the values under continuationKey(index, 1), ..., continuationKey(index, parts) hold the
// encoding's following bytes, in order, with nothing around them. Head and parts are written
// in one batch and deleted in one batch. Put together they are one version 1 encoding of
// exactly length bytes, decoded as above; anything else (a part missing, too few or too many
// bytes) is corruption. A binary that knows only version 1 refuses a head as an unknown
// version rather than misreading it.
const (
	logFormatV1   = 1
	logFormatHead = 2
)

// headReserve is the room a head's fields before its first part may take: the version byte
// and three uvarints of at most binary.MaxVarintLen64 bytes. A value limit must exceed it.
const headReserve = 1 + 3*binary.MaxVarintLen64

// splitLog returns the values that store encoded, the version 1 encoding of the entry at
// index, when no value may be longer than limit bytes: encoded itself as the head and no
// parts when it fits, otherwise a new head and the parts, which are sub-slices of encoded.
func splitLog(index uint64, encoded []byte, limit int) (head []byte, parts [][]byte) {
	if len(encoded) <= limit {
		return encoded, nil
	}
	first := limit - headReserve
	for rest := encoded[first:]; len(rest) > 0; {
		n := min(limit, len(rest))
		parts = append(parts, rest[:n])
		rest = rest[n:]
	}
	head = make([]byte, 0, limit)
	head = append(head, logFormatHead)
	head = binary.AppendUvarint(head, index)
	head = binary.AppendUvarint(head, uint64(len(encoded)))
	head = binary.AppendUvarint(head, uint64(len(parts)))
	head = append(head, encoded[:first]...)
	return head, parts
}

// isHead reports whether value, stored under a log key, is the head of an entry in parts.
func isHead(value []byte) bool {
	return len(value) > 0 && value[0] == logFormatHead
}

// logHead is a decoded head: what it says of its entry's encoding, and its first part.
type logHead struct {
	length uint64 // bytes of the whole version 1 encoding
	parts  uint32 // continuation values after the head
	first  []byte // the encoding's first bytes, sharing the head's memory
}

// decodeHead decodes value, the head stored under the log key of index. A malformed head,
// or one that names another index, is an error wrapping strata.ErrCorruption.
func decodeHead(index uint64, value []byte) (logHead, error) {
	d := logDecoder{buf: value}
	if v := d.byte("version"); d.err == nil && v != logFormatHead {
		return logHead{}, fmt.Errorf("%w: raftstore: log %d: format version %d is not a head", strata.ErrCorruption, index, v)
	}
	stored := d.uvarint("index")
	length := d.uvarint("length")
	parts := d.uvarint("parts")
	switch {
	case d.err != nil:
		return logHead{}, fmt.Errorf("%w: raftstore: log %d: head: %v", strata.ErrCorruption, index, d.err)
	case stored != index:
		return logHead{}, fmt.Errorf("%w: raftstore: log %d: stored head has index %d", strata.ErrCorruption, index, stored)
	case parts == 0 || parts > math.MaxUint32:
		return logHead{}, fmt.Errorf("%w: raftstore: log %d: head names %d parts", strata.ErrCorruption, index, parts)
	case length > strata.MaxBatchSize || uint64(len(d.buf)) >= length:
		// One batch holds a whole entry, and the parts hold at least a byte each.
		return logHead{}, fmt.Errorf("%w: raftstore: log %d: head of a %d-byte entry holds %d bytes", strata.ErrCorruption, index, length, len(d.buf))
	}
	return logHead{length: length, parts: uint32(parts), first: d.buf}, nil
}

// encodeLog appends the encoding of l to dst and returns the result.
func encodeLog(dst []byte, l *raft.Log) []byte {
	dst = append(dst, logFormatV1)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	dst = binary.AppendVarint(dst, l.AppendedAt.Unix())
	dst = binary.AppendUvarint(dst, uint64(l.AppendedAt.Nanosecond()))
	return dst
}

// logDecoder reads the fields of one encoded entry in order, remembering the first error.
type logDecoder struct {
	buf []byte
	err error
}

// fail records that the field what could not be read, unless an earlier field failed.
func (d *logDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or malformed %s", what)
	}
}

// byte reads a one-byte field.
func (d *logDecoder) byte(what string) byte {
	if d.err != nil || len(d.buf) < 1 {
		d.fail(what)
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

// uvarint reads an unsigned varint field.
func (d *logDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// varint reads a signed (zig-zag) varint field.
func (d *logDecoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// bytes returns a length-prefixed field as a sub-slice of the buffer (nil when empty): the
// decoded entry shares the value's memory instead of copying it.
func (d *logDecoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.fail(what)
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// decodeLog decodes value, the stored entry at index, into l. The result's Data and
// Extensions share value's memory. A malformed value, or one that names another index, is
// an error wrapping strata.ErrCorruption.
func decodeLog(index uint64, value []byte, l *raft.Log) error {
	d := logDecoder{buf: value}
	if v := d.byte("version"); d.err == nil && v != logFormatV1 {
		return fmt.Errorf("%w: raftstore: log %d: unknown format version %d", strata.ErrCorruption, index, v)
	}
	decoded := raft.Log{
		Index:      d.uvarint("index"),
		Term:       d.uvarint("term"),
		Type:       raft.LogType(d.byte("type")),
		Data:       d.bytes("data"),
		Extensions: d.bytes("extensions"),
	}
	sec := d.varint("appended_at seconds")
	nsec := d.uvarint("appended_at nanoseconds")
	switch {
	case d.err != nil:
		return fmt.Errorf("%w: raftstore: log %d: %v", strata.ErrCorruption, index, d.err)
	case nsec >= uint64(time.Second):
		return fmt.Errorf("%w: raftstore: log %d: appended_at nanoseconds %d", strata.ErrCorruption, index, nsec)
	case len(d.buf) != 0:
		return fmt.Errorf("%w: raftstore: log %d: %d bytes after the entry", strata.ErrCorruption, index, len(d.buf))
	case decoded.Index != index:
		return fmt.Errorf("%w: raftstore: log %d: stored entry has index %d", strata.ErrCorruption, index, decoded.Index)
	}
	if t := time.Unix(sec, int64(nsec)); !t.IsZero() {
		decoded.AppendedAt = t
	}
	*l = decoded
	return nil
}
