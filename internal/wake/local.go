package wake

import (
	"context"
	"sync"
)

// Local fans wake-ups out to the subscribers of this process: enough for
// one instance, and the last step of every other hub.
type Local struct {
	mu   sync.Mutex
	subs map[int64]map[chan struct{}]struct{}
}

var _ Hub = (*Local)(nil)

// NewLocal returns a hub that wakes subscribers in this process only.
func NewLocal() *Local {
	return &Local{subs: map[int64]map[chan struct{}]struct{}{}}
}

// Publish wakes every current subscriber of the device. It never blocks
// and never fails.
func (l *Local) Publish(_ context.Context, deviceID int64) error {
	l.wake(deviceID)
	return nil
}

// Subscribe returns a channel that receives when the device is woken. Its
// buffer of one keeps a wake-up that comes before the subscriber reads,
// and further ones are dropped: one wake-up already makes the device
// check in and collect everything queued.
func (l *Local) Subscribe(deviceID int64) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	if l.subs[deviceID] == nil {
		l.subs[deviceID] = map[chan struct{}]struct{}{}
	}
	l.subs[deviceID][ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			delete(l.subs[deviceID], ch)
			if len(l.subs[deviceID]) == 0 {
				delete(l.subs, deviceID)
			}
		})
	}
}

func (l *Local) wake(deviceID int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs[deviceID] {
		notify(ch)
	}
}

// wakeAll wakes every subscriber of every device, for when wake-ups may
// have been missed.
func (l *Local) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, subs := range l.subs {
		for ch := range subs {
			notify(ch)
		}
	}
}

// notify sends without blocking, so that a subscriber that does not read
// never holds up Publish.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
