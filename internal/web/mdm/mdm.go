// Package mdm is the door Apple devices use (SPEC APPLE-1): the SCEP
// server that gives them their identity, and the check-in and command
// endpoints of the MDM protocol. It carries bytes; internal/applemdm reads
// and writes them, and internal/service decides.
package mdm

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/applemdm"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
)

// Handler serves the Apple device routes.
type Handler struct {
	svc *service.Service
}

// New returns the handler.
func New(svc *service.Service) *Handler { return &Handler{svc: svc} }

// Register adds the routes. SCEP is public: the challenge inside the
// request is its credential.
func (h *Handler) Register(mux *web.Mux) {
	mux.Handle("GET /scep", web.Public, http.HandlerFunc(h.scep))
	mux.Handle("POST /scep", web.Public, http.HandlerFunc(h.scep))
	mux.Handle("PUT /mdm/checkin", web.AppleDevice, http.HandlerFunc(h.checkin))
	mux.Handle("PUT /mdm/connect", web.AppleDevice, http.HandlerFunc(h.connect))
}

type identityKey struct{}

type identity struct {
	cert *x509.Certificate
	body []byte
}

// Guard reads the body, at most applemdm.MaxBody bytes, and lets through
// only a request that proves a device identity: a TLS client certificate,
// or an Mdm-Signature of the body (the identity a proxy that ends TLS
// passes on). With both, they must be the same certificate. The identity
// must be one our CA issued; whose it is, the service decides.
func (h *Handler) Guard() web.Guard {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, applemdm.MaxBody))
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "The message is larger than 1 MiB.", http.StatusRequestEntityTooLarge)
				return
			} else if err != nil {
				http.Error(w, "The message could not be read.", http.StatusBadRequest)
				return
			}
			var tlsCert *x509.Certificate
			if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
				tlsCert = r.TLS.PeerCertificates[0]
			}
			cert := tlsCert
			if sig := r.Header.Get("Mdm-Signature"); sig != "" {
				signer, err := applemdm.VerifySignature(sig, body)
				if err != nil || (tlsCert != nil && !tlsCert.Equal(signer)) {
					http.Error(w, "The message's signature is not valid.", http.StatusUnauthorized)
					return
				}
				cert = signer
			}
			if cert == nil {
				http.Error(w, "This endpoint is for enrolled Apple devices: the request shows no device identity.", http.StatusUnauthorized)
				return
			}
			// The cheap refusal first: a certificate of another CA is
			// turned away before the body is decoded.
			if err := h.svc.CheckAppleIdentity(cert); err != nil {
				fail(w, r, err)
				return
			}
			ctx := context.WithValue(r.Context(), identityKey{}, identity{cert: cert, body: body})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func fromContext(ctx context.Context) identity {
	id, _ := ctx.Value(identityKey{}).(identity)
	return id
}

// fail answers an error in plain text. Any 401 makes the device remove
// its enrollment profile, which is right for a device we do not manage.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	web.LogError(r, err)
	http.Error(w, portico.ErrorMessage(err), web.Status(err))
}

func (h *Handler) checkin(w http.ResponseWriter, r *http.Request) {
	id := fromContext(r.Context())
	m, err := applemdm.DecodeCheckin(id.body)
	if errors.Is(err, applemdm.ErrUserChannel) {
		// Portico manages devices, not the users of a Mac: the user
		// channel is let be, not refused, since a refusal would unenroll
		// the whole device.
		slog.InfoContext(r.Context(), "ignored an Apple user-channel check-in")
		return
	} else if err != nil {
		http.Error(w, "This is not a check-in message: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := h.svc.AppleCheckin(r.Context(), id.cert, m); err != nil {
		fail(w, r, err)
	}
}

func (h *Handler) connect(w http.ResponseWriter, r *http.Request) {
	id := fromContext(r.Context())
	res, err := applemdm.DecodeResult(id.body)
	if errors.Is(err, applemdm.ErrUserChannel) {
		return
	} else if err != nil {
		http.Error(w, "This is not a command result: "+err.Error(), http.StatusBadRequest)
		return
	}
	cmd, err := h.svc.AppleConnect(r.Context(), id.cert, res)
	if err != nil {
		fail(w, r, err)
		return
	}
	// No command is a 200 with an empty body, not an empty plist.
	if cmd != nil {
		w.Header().Set("Content-Type", "application/xml")
		w.Write(cmd)
	}
}

// scep serves RFC 8894: GetCACaps, GetCACert, and PKIOperation by GET
// (message in the query, base64) or POST (the body).
func (h *Handler) scep(w http.ResponseWriter, r *http.Request) {
	switch op := r.URL.Query().Get("operation"); op {
	case "GetCACaps":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, applemdm.SCEPCaps)
	case "GetCACert":
		der, err := h.svc.AppleCACert()
		if err != nil {
			fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", applemdm.CACertContentType)
		w.Write(der)
	case "PKIOperation":
		var msg []byte
		var err error
		if r.Method == http.MethodPost {
			msg, err = io.ReadAll(http.MaxBytesReader(w, r.Body, applemdm.MaxBody))
		} else {
			// A client that did not escape the query sends its "+" as spaces.
			msg, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(r.URL.Query().Get("message"), " ", "+"))
		}
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "The request is larger than 1 MiB.", http.StatusRequestEntityTooLarge)
			return
		} else if err != nil {
			http.Error(w, "The PKIOperation message is not readable (base64 in the query, or the body of a POST).", http.StatusBadRequest)
			return
		}
		rep, err := h.svc.AppleSCEP(r.Context(), msg)
		if err != nil {
			fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", applemdm.PKIMessageContentType)
		w.Write(rep)
	default:
		http.Error(w, "The SCEP operations are GetCACaps, GetCACert and PKIOperation.", http.StatusBadRequest)
	}
}
