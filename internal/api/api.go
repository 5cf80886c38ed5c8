// Package api is the admin JSON API under /api/v1/ (SPEC ADM-4): what the
// admin portal does, for scripts, with an API key instead of a browser
// session. Each handler decodes, calls one service method and encodes; the
// rules, admin checks and audit live in internal/service. The OpenAPI
// document beside this file describes every call and is served at
// /api/v1/openapi.json.
package api

import (
	"context"
	_ "embed"
	"net/http"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/service"
	"github.com/portico-mdm/portico/internal/web"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// maxBody bounds a request body; the largest legitimate one is a settings
// change with every instruction text at its longest.
const maxBody = 64 << 10

//go:embed openapi.json
var openAPI []byte

// API serves the admin API.
type API struct {
	svc *service.Service
}

// New returns the API over the service.
func New(svc *service.Service) *API { return &API{svc: svc} }

// route is one call of the API. Its access says which key it needs:
// web.APIRead for a GET that any key may make, web.APIWrite for anything
// that needs a read-write key.
type route struct {
	method, path string
	access       web.Access
	h            web.HandlerFunc
}

// routes lists every call. Adding one takes a line here, its handler, and
// its operation in openapi.json; TestDocumentMatchesRoutes holds the two
// lists equal.
func (a *API) routes() []route {
	return []route{
		{"GET", "/users", web.APIRead, a.users},
		{"POST", "/users", web.APIWrite, a.createUser},
		{"GET", "/users/{id}", web.APIRead, byID("user", a.svc.User)},
		{"PATCH", "/users/{id}", web.APIWrite, a.updateUser},
		{"PUT", "/users/{id}/roles", web.APIWrite, a.setRoles},
		{"POST", "/users/{id}/invitations", web.APIWrite, a.invite},
		{"POST", "/users/{id}/disable", web.APIWrite, a.setDisabled(true)},
		{"POST", "/users/{id}/enable", web.APIWrite, a.setDisabled(false)},
		{"POST", "/users/{id}/password-link", web.APIWrite, a.passwordLink},
		{"POST", "/users/{id}/temporary-password", web.APIWrite, a.temporaryPassword},
		{"DELETE", "/users/{id}/two-factor", web.APIWrite, a.resetTwoFactor},
		{"GET", "/users/{id}/role-sets", web.APIRead, a.userRoleSets},
		{"POST", "/users/roles", web.APIWrite, a.bulkRoles},
		{"POST", "/users/import/preview", web.APIWrite, a.previewImport},
		{"POST", "/users/import", web.APIWrite, a.importUsers},
		{"GET", "/roles", web.APIRead, a.roles},
		{"GET", "/role-sets", web.APIRead, a.roleSets},
		{"POST", "/role-sets", web.APIWrite, a.createRoleSet},
		{"GET", "/role-sets/{id}", web.APIRead, byID("role set", a.svc.RoleSet)},
		{"PUT", "/role-sets/{id}", web.APIWrite, a.updateRoleSet},
		{"DELETE", "/role-sets/{id}", web.APIWrite, a.deleteRoleSet},
		{"POST", "/role-sets/{id}/members", web.APIWrite, a.changeMembers(a.svc.AssignRoleSet)},
		{"POST", "/role-sets/{id}/members/remove", web.APIWrite, a.changeMembers(a.svc.UnassignRoleSet)},
		{"GET", "/devices", web.APIRead, a.devices},
		{"GET", "/devices/{id}", web.APIRead, byID("device", a.svc.Device)},
		{"GET", "/devices/{id}/commands", web.APIRead, a.commands},
		{"POST", "/devices/{id}/actions", web.APIWrite, a.act},
		{"PUT", "/devices/{id}/ownership", web.APIWrite, a.setOwnership},
		{"POST", "/commands/{id}/cancel", web.APIWrite, a.cancel},
		{"GET", "/settings", web.APIRead, a.settings},
		{"PATCH", "/settings", web.APIWrite, a.setSettings},
		{"POST", "/settings/test", web.APIWrite, a.testMessage},
		{"GET", "/outbox", web.APIRead, a.outbox},
		{"GET", "/outbox/{id}", web.APIRead, byID("message", a.svc.Message)},
		{"GET", "/apple/push-certificate", web.APIRead, a.pushCertificate},
		{"GET", "/audit", web.APIRead, a.audit},
	}
}

// Register adds the API's routes to the mux. The document is public: it
// describes calls that every Portico has, holds no data, and tools read it
// before they have a key. Every other path under Prefix answers in the
// API's JSON, 404 and 405 included.
func (a *API) Register(mux *web.Mux) {
	known := http.NewServeMux()
	for _, rt := range a.routes() {
		pattern := rt.method + " " + Prefix + rt.path
		mux.Handle(pattern, rt.access, web.JSON(rt.h))
		known.Handle(pattern, http.NotFoundHandler())
	}
	doc := "GET " + Prefix + "/openapi.json"
	mux.Handle(doc, web.Public, http.HandlerFunc(serveOpenAPI))
	known.Handle(doc, http.NotFoundHandler())
	mux.Handle(Prefix+"/", web.Public, web.UnmatchedJSON(known, "the admin API"))
}

// Guards returns the guards of the API's access levels: any valid key for
// APIRead, a read-write key for APIWrite. The key becomes the request's
// actor, with an administrator's rights and named after it in the audit
// log. Browser sessions count for nothing here.
func (a *API) Guards() map[web.Access]web.Guard {
	return map[web.Access]web.Guard{
		web.APIRead:  a.guard(false),
		web.APIWrite: a.guard(true),
	}
}

func (a *API) guard(write bool) web.Guard {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, err := a.authenticate(r)
			if err == nil && write && k.Scope != portico.ScopeReadWrite {
				err = portico.Errorf(portico.EFORBIDDEN, "This API key is read-only; %s %s needs a read-write key.", r.Method, r.URL.Path)
			}
			if err != nil {
				web.RefuseJSON(w, r, err)
				return
			}
			actor := portico.ActorFromContext(r.Context())
			actor.APIKey = k
			next.ServeHTTP(w, r.WithContext(portico.NewContextWithActor(r.Context(), actor)))
		})
	}
}

func (a *API) authenticate(r *http.Request) (*portico.APIKey, error) {
	key := web.BearerToken(r)
	if key == "" {
		return nil, portico.Errorf(portico.EUNAUTHENTICATED, "An API key is required: send \"Authorization: Bearer <key>\". Administrators create keys in the admin portal under API keys.")
	}
	return a.svc.AuthenticateAPIKey(r.Context(), key)
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

// byID answers with the thing of the path's id, as read finds it: the
// reads of one user, device, role set or message.
func byID[T any](what string, read func(context.Context, int64) (T, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := web.PathID(r, "id", what)
		if err != nil {
			return err
		}
		v, err := read(r.Context(), id)
		if err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, v)
	}
}
