package bench

import "testing"

// deleterange on both engines with range deletes, at a tiny size: the workload itself fails
// when a scan after the delete finds the wrong number of keys, a deleted key reads back or a
// kept one is gone; here every row must exist and the compaction must have given space back.
func TestDeleteRangeOnStrataAndPebble(t *testing.T) {
	keys := testKeys(t)
	cfg := DefaultConfig(t.TempDir(), keys)
	rows, err := RunDeleteRange(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var engines []string
	for _, row := range rows {
		engines = append(engines, row.Engine)
		if row.Deleted != keys || row.Loaded != keys+keys/10 || row.ScanLive != keys/10 {
			t.Errorf("%s: loaded %d, deleted %d, %d live after; want %d, %d, %d",
				row.Engine, row.Loaded, row.Deleted, row.ScanLive, keys+keys/10, keys, keys/10)
		}
		if row.BytesAfterCompact >= row.BytesAfterDelete {
			t.Errorf("%s: %d bytes on disk after the compaction, %d before it", row.Engine, row.BytesAfterCompact, row.BytesAfterDelete)
		}
	}
	if len(engines) != 2 || engines[0] != "strata" || engines[1] != "pebble" {
		t.Errorf("rows for %v, want strata and pebble (the others have no range delete)", engines)
	}
}
