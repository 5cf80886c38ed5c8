package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

func testLogo(t *testing.T, st store.Store) {
	_, err := st.Logo(ctx(t), true)
	wantCode(t, err, portico.ENOTFOUND)
	wantCode(t, st.DeleteLogo(ctx(t)), portico.ENOTFOUND)

	first := &portico.Logo{ContentType: "image/png", Data: []byte("\x89PNG\x00first"), Digest: "d1", UpdatedAt: base}
	check(t, st.PutLogo(ctx(t), first))
	second := &portico.Logo{ContentType: "image/svg+xml", Data: []byte("<svg/>\x00"), Digest: "d2", UpdatedAt: base.Add(time.Hour)}
	check(t, st.PutLogo(ctx(t), second))

	got, err := st.Logo(ctx(t), true)
	check(t, err)
	if got.ContentType != second.ContentType || !bytes.Equal(got.Data, second.Data) || got.Size != len(second.Data) || got.Digest != "d2" {
		t.Errorf("logo = %+v, want the second one", got)
	}
	wantTime(t, "updated", got.UpdatedAt, base.Add(time.Hour))
	// Pages ask for the logo without its image.
	got, err = st.Logo(ctx(t), false)
	check(t, err)
	if got.Data != nil || got.Size != len(second.Data) || got.Digest != "d2" {
		t.Errorf("logo without data = %+v", got)
	}

	check(t, st.DeleteLogo(ctx(t)))
	_, err = st.Logo(ctx(t), false)
	wantCode(t, err, portico.ENOTFOUND)
}

func testBackups(t *testing.T, st store.Store) {
	_, err := st.LastBackup(ctx(t))
	wantCode(t, err, portico.ENOTFOUND)
	for _, b := range []*portico.BackupRecord{
		{At: base.Add(time.Hour), By: "alice", Via: portico.BackupViaPortal, Source: "192.0.2.1"},
		{At: base, By: "system", Via: portico.BackupViaCLI, Source: "cli"},
	} {
		check(t, st.RecordBackup(ctx(t), b))
	}
	got, err := st.LastBackup(ctx(t))
	check(t, err)
	if got.By != "alice" || got.Via != portico.BackupViaPortal || got.Source != "192.0.2.1" {
		t.Errorf("last backup = %+v, want alice's, the newest", got)
	}
	wantTime(t, "taken", got.At, base.Add(time.Hour))
}
