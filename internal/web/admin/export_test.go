package admin

import "testing"

// SmallExportBatches makes exports read n rows at a time for the rest of
// the test, so that a few rows take several batches.
func SmallExportBatches(t *testing.T, n int) {
	old := exportBatch
	exportBatch = n
	t.Cleanup(func() { exportBatch = old })
}
