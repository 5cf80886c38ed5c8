package certfile_test

import (
	"errors"
	"testing"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/certfile"
)

// FuzzParse feeds Parse what a user could upload. It must never panic, and
// must return either a whole identity or a refusal the user can read. Plain
// go test replays the seeds and testdata/fuzz/FuzzParse; go test -fuzz
// FuzzParse explores further.
func FuzzParse(f *testing.F) {
	fx := fixtures()
	for _, e := range encoders {
		f.Add(must(e.enc.Encode(fx.caRSA.key, fx.caRSA.cert, fx.caRSA.chain, password)), password)
		f.Add(must(e.enc.Encode(fx.selfEC.key, fx.selfEC.cert, nil, password)), password)
		f.Add(must(e.enc.EncodeTrustStore(fx.caEC.chain, password)), password)
	}
	f.Add([]byte{}, "")
	f.Add([]byte("not a certificate"), password)
	f.Add([]byte{0x30, 0x80, 0x02, 0x01, 0x03}, "")
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		id, err := certfile.Parse(data, password, now)
		if err != nil {
			var e *portico.Error
			if !errors.As(err, &e) || e.Code != portico.EINVALID {
				t.Fatalf("error = %#v, want a *portico.Error with code %q", err, portico.EINVALID)
			}
			if id != nil {
				t.Fatal("Parse returned an identity and an error")
			}
			return
		}
		if id.Certificate == nil || id.Key == nil {
			t.Fatalf("identity without certificate or key: %+v", id)
		}
	})
}
