package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/portico-mdm/portico"
	"github.com/portico-mdm/portico/internal/store"
)

// UserLoader finds the user behind a session.
type UserLoader interface {
	SessionUser(ctx context.Context, userID int64) (*portico.User, error)
}

// ErrorPage shows an error to a person in a browser.
type ErrorPage func(w http.ResponseWriter, r *http.Request, err error)

// Sessions are browser sessions kept in the database, so that every instance
// behind a load balancer knows them and a restart keeps them.
type Sessions struct {
	manager *scs.SessionManager
	users   UserLoader
	page    ErrorPage
	csrf    *http.CrossOriginProtection
}

const (
	sessionUserKey  = "user_id"
	sessionFlashKey = "flash"
)

// NewSessions returns browser sessions stored in st. Cookies are HttpOnly
// and SameSite=Lax, and Secure when served over TLS.
func NewSessions(st store.Sessions, users UserLoader, page ErrorPage, idle, lifetime time.Duration, secure bool) *Sessions {
	m := scs.New()
	m.Store = sessionStore{st}
	m.IdleTimeout = idle
	m.Lifetime = lifetime
	m.Cookie.Name = "portico_session"
	m.Cookie.HttpOnly = true
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Secure = secure
	m.Cookie.Path = "/"
	m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) { page(w, r, err) }
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page(w, r, portico.Errorf(portico.EFORBIDDEN, "This request came from another site and was refused. Go back to the portal and try again."))
	}))
	return &Sessions{manager: m, users: users, page: page, csrf: csrf}
}

// SignIn binds the session to the user under a new token, so a token known
// before sign-in is worthless after it.
func (s *Sessions) SignIn(ctx context.Context, u *portico.User) error {
	if err := s.manager.RenewToken(ctx); err != nil {
		return err
	}
	s.manager.Put(ctx, sessionUserKey, u.ID)
	return nil
}

// SignOut ends the session.
func (s *Sessions) SignOut(ctx context.Context) error { return s.manager.Destroy(ctx) }

// Flash keeps a message for the next page the user sees.
func (s *Sessions) Flash(ctx context.Context, msg string) { s.manager.Put(ctx, sessionFlashKey, msg) }

// PopFlash returns the kept message once.
func (s *Sessions) PopFlash(ctx context.Context) string {
	return s.manager.PopString(ctx, sessionFlashKey)
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
			return s.csrf.Handler(s.manager.LoadAndSave(inner))
		}
	}
	return map[Access]Guard{
		Visitor:  browser(nil),
		SignedIn: browser(func(*portico.User) error { return nil }),
		Admin: browser(func(u *portico.User) error {
			if !u.Admin {
				return portico.Errorf(portico.EFORBIDDEN, "This page is for administrators.")
			}
			return nil
		}),
	}
}

// requireUser puts the session's user into the request's actor, or sends a
// person without a session to the sign-in page.
func (s *Sessions) requireUser(next http.Handler, check func(*portico.User) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := s.manager.GetInt64(ctx, sessionUserKey)
		var u *portico.User
		var err error = portico.Errorf(portico.EUNAUTHENTICATED, "Please sign in.")
		if id != 0 {
			u, err = s.users.SessionUser(ctx, id)
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
