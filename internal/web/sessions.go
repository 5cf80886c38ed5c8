package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// UserLoader finds the user behind a session: epoch is the user's session
// epoch when the session signed in, which the loader refuses once the user
// moved it on.
type UserLoader interface {
	SessionUser(ctx context.Context, userID, epoch int64) (*portico.User, error)
}

// ErrorPage shows an error to a person in a browser.
type ErrorPage func(w http.ResponseWriter, r *http.Request, err error)

// SessionPolicy says how long sessions last, as the settings say now.
type SessionPolicy interface {
	SessionPolicy(ctx context.Context) (idle, lifetime time.Duration, err error)
}

// Sessions are browser sessions kept in the database, so that every instance
// behind a load balancer knows them and a restart keeps them.
type Sessions struct {
	store  sessionStore
	users  UserLoader
	policy SessionPolicy
	page   ErrorPage
	csrf   *http.CrossOriginProtection
	secure bool

	mu sync.Mutex
	// managers has one session manager per policy in force since start-up,
	// so that a changed setting applies to the next request, on every
	// instance, without a restart.
	managers map[[2]time.Duration]*scs.SessionManager
}

const (
	sessionUserKey  = "user_id"
	sessionEpochKey = "session_epoch"
	sessionFlashKey = "flash"
)

// NewSessions returns browser sessions stored in st. Cookies are HttpOnly
// and SameSite=Lax, and Secure when the site is served over TLS.
func NewSessions(st store.Sessions, users UserLoader, policy SessionPolicy, page ErrorPage, secure bool) *Sessions {
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page(w, r, portico.Errorf(portico.EFORBIDDEN, "This request came from another site and was refused. Go back to the portal and try again."))
	}))
	return &Sessions{
		store: sessionStore{st}, users: users, policy: policy, page: page, csrf: csrf, secure: secure,
		managers: map[[2]time.Duration]*scs.SessionManager{},
	}
}

func (s *Sessions) managerFor(idle, lifetime time.Duration) *scs.SessionManager {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]time.Duration{idle, lifetime}
	if m, ok := s.managers[key]; ok {
		return m
	}
	m := scs.New()
	m.Store = s.store
	m.IdleTimeout = idle
	m.Lifetime = lifetime
	m.Cookie.Name = "portico_session"
	m.Cookie.HttpOnly = true
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Secure = s.secure
	m.Cookie.Path = "/"
	m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) { s.page(w, r, err) }
	s.managers[key] = m
	return m
}

type managerKey struct{}

// load loads the request's session with the manager of the policy in
// force, which the handlers then find in the context.
func (s *Sessions) load(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idle, lifetime, err := s.policy.SessionPolicy(r.Context())
		if err != nil {
			s.page(w, r, err)
			return
		}
		m := s.managerFor(idle, lifetime)
		m.LoadAndSave(next).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), managerKey{}, m)))
	})
}

// manager is the session manager that loaded the request's session.
func manager(ctx context.Context) *scs.SessionManager {
	return ctx.Value(managerKey{}).(*scs.SessionManager)
}

// SignIn binds the session to the user and the user's session epoch under
// a new token, so a token known before sign-in is worthless after it.
func (s *Sessions) SignIn(ctx context.Context, u *portico.User) error {
	if err := manager(ctx).RenewToken(ctx); err != nil {
		return err
	}
	s.DropHeld(ctx)
	manager(ctx).Put(ctx, sessionUserKey, u.ID)
	manager(ctx).Put(ctx, sessionEpochKey, u.SessionEpoch)
	return nil
}

// SignOut ends the session.
func (s *Sessions) SignOut(ctx context.Context) error { return manager(ctx).Destroy(ctx) }

// Flash keeps a message for the next page the user sees.
func (s *Sessions) Flash(ctx context.Context, msg string) {
	manager(ctx).Put(ctx, sessionFlashKey, msg)
}

// PopFlash returns the kept message once.
func (s *Sessions) PopFlash(ctx context.Context) string {
	return manager(ctx).PopString(ctx, sessionFlashKey)
}

// Guards returns the guards for browser routes: Visitor, SignedIn, Admin.
// Each loads the session and refuses cross-origin writes.
func (s *Sessions) Guards() map[Access]Guard {
	browser := func(check func(*portico.User) error) Guard {
		return func(next http.Handler) http.Handler {
			inner := next
			if check != nil {
				inner = s.requireUser(next, check)
			}
			return s.csrf.Handler(s.load(inner))
		}
	}
	return map[Access]Guard{
		Visitor:  browser(nil),
		SignedIn: browser(func(*portico.User) error { return nil }),
		Admin: func(next http.Handler) http.Handler {
			return browser(func(u *portico.User) error {
				if !u.Admin {
					return portico.Errorf(portico.EFORBIDDEN, "This page is for administrators.")
				}
				return nil
			})(s.enrolFirst(next))
		},
	}
}

// AdminGate says whether an admin must set up a second factor before any
// admin page (the setting security.require_admin_2fa).
type AdminGate interface {
	AdminMustEnrol(ctx context.Context, u *portico.User) (bool, error)
}

// TwoFactorPage is where a user sets up a second factor.
const TwoFactorPage = "/account/two-factor"

// enrolFirst sends an admin whom the settings require to use a second
// factor, and who has none, to set one up; the users' loader decides, when
// it is an AdminGate.
func (s *Sessions) enrolFirst(next http.Handler) http.Handler {
	gate, ok := s.users.(AdminGate)
	if !ok {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		must, err := gate.AdminMustEnrol(r.Context(), portico.ActorFromContext(r.Context()).User)
		if err != nil {
			s.page(w, r, err)
			return
		}
		if !must {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			s.Flash(r.Context(), "Administrators must use two-step sign-in. Set it up here to open the admin portal.")
			http.Redirect(w, r, TwoFactorPage, http.StatusSeeOther)
			return
		}
		s.page(w, r, portico.Errorf(portico.EFORBIDDEN, "Administrators must use two-step sign-in. Set it up on your account page first."))
	})
}

// HeldSignIn is a sign-in whose password was right and that waits for its
// second factor. The session holding it is not signed in.
type HeldSignIn struct {
	portico.PendingSignIn
	Next string
}

const (
	heldUserKey    = "held_user_id"
	heldEpochKey   = "held_epoch"
	heldStartedKey = "held_started"
	heldNextKey    = "held_next"
)

// HoldSignIn keeps a sign-in waiting for its second factor, under a new
// token, in a session that stays signed out.
func (s *Sessions) HoldSignIn(ctx context.Context, h HeldSignIn) error {
	m := manager(ctx)
	if err := m.RenewToken(ctx); err != nil {
		return err
	}
	m.Remove(ctx, sessionUserKey)
	m.Put(ctx, heldUserKey, h.UserID)
	m.Put(ctx, heldEpochKey, h.Epoch)
	m.Put(ctx, heldStartedKey, h.Started.UnixNano())
	m.Put(ctx, heldNextKey, h.Next)
	return nil
}

// Held returns the sign-in the session holds, if any.
func (s *Sessions) Held(ctx context.Context) (HeldSignIn, bool) {
	m := manager(ctx)
	id := m.GetInt64(ctx, heldUserKey)
	return HeldSignIn{
		PendingSignIn: portico.PendingSignIn{
			UserID: id, Epoch: m.GetInt64(ctx, heldEpochKey), Started: time.Unix(0, m.GetInt64(ctx, heldStartedKey)),
		},
		Next: m.GetString(ctx, heldNextKey),
	}, id != 0
}

// DropHeld forgets the held sign-in.
func (s *Sessions) DropHeld(ctx context.Context) {
	m := manager(ctx)
	for _, k := range []string{heldUserKey, heldEpochKey, heldStartedKey, heldNextKey} {
		m.Remove(ctx, k)
	}
}

// ChangePasswordPath is the page where a user replaces a temporary
// password, the only page they may open until they did.
const ChangePasswordPath = "/change-password"

// requireUser puts the session's user into the request's actor, or sends a
// person without a session to the sign-in page.
func (s *Sessions) requireUser(next http.Handler, check func(*portico.User) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := manager(ctx).GetInt64(ctx, sessionUserKey)
		var u *portico.User
		var err error = portico.Errorf(portico.EUNAUTHENTICATED, "Please sign in.")
		if id != 0 {
			u, err = s.users.SessionUser(ctx, id, manager(ctx).GetInt64(ctx, sessionEpochKey))
		}
		if err != nil {
			if portico.ErrorCode(err) == portico.EUNAUTHENTICATED && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.page(w, r, err)
			return
		}
		if err := check(u); err != nil {
			s.page(w, r, err)
			return
		}
		if u.MustChangePassword && r.URL.Path != ChangePasswordPath && r.URL.Path != "/logout" {
			// A temporary password opens nothing but the page to replace it.
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, ChangePasswordPath, http.StatusSeeOther)
				return
			}
			s.page(w, r, portico.Errorf(portico.EFORBIDDEN, "Choose your own password first: yours is temporary."))
			return
		}
		a := portico.ActorFromContext(ctx)
		a.User = u
		next.ServeHTTP(w, r.WithContext(portico.NewContextWithActor(ctx, a)))
	})
}

// LocalPath returns next if it is a path on this site, else "/": a sign-in
// link can never send a person elsewhere.
func LocalPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// sessionStore keeps sessions under the SHA-256 of their token.
type sessionStore struct{ st store.Sessions }

func sessionKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func (s sessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	return s.st.FindSession(ctx, sessionKey(token), time.Now())
}

func (s sessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return s.st.CommitSession(ctx, sessionKey(token), b, expiry)
}

func (s sessionStore) DeleteCtx(ctx context.Context, token string) error {
	return s.st.DeleteSession(ctx, sessionKey(token))
}

func (s sessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s sessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s sessionStore) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }
